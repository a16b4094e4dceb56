"""``updated`` / ``deleted``: the feeds a client polls to catch up on what changed since its watermark."""

from __future__ import annotations

import httpx
import pytest

from app.simulators.salesforce import SalesforceState
from tests.simulators.salesforce.conftest import FakeClock, V

CALLS = f"{V}/sobjects/Call2_vod__c"


def window(start: str, end: str) -> dict[str, str]:
    return {"start": start, "end": end}


async def test_updated_lists_ids_changed_in_the_window(
    api: httpx.AsyncClient, state: SalesforceState, clock: FakeClock
) -> None:
    early = state.create_record("Call2_vod__c", {"Subject_vod__c": "early"})  # 10:00:00
    clock.advance(minutes=5, seconds=30)
    late = state.create_record("Call2_vod__c", {"Subject_vod__c": "late"})  # 10:05:30
    clock.advance(minutes=10)  # now 10:15:30

    response = await api.get(
        f"{CALLS}/updated/", params=window("2026-11-20T10:01:00+00:00", "2026-11-20T10:15:00Z")
    )
    assert response.status_code == 200
    assert response.json() == {"ids": [late["Id"]], "latestDateCovered": "2026-11-20T10:15:00.000+0000"}

    everything = await api.get(
        f"{CALLS}/updated/", params=window("2026-11-20T09:00:00Z", "2026-11-20T11:00:00Z")
    )
    assert everything.json()["ids"] == [early["Id"], late["Id"]]
    # covered only up to the current minute: later changes belong to the next poll
    assert everything.json()["latestDateCovered"] == "2026-11-20T10:15:00.000+0000"


async def test_seconds_in_the_window_are_ignored(
    api: httpx.AsyncClient, state: SalesforceState, clock: FakeClock
) -> None:
    clock.advance(minutes=3, seconds=20)
    record = state.create_record("Call2_vod__c", {})  # 10:03:20
    clock.advance(minutes=10)
    response = await api.get(
        f"{CALLS}/updated/", params=window("2026-11-20T10:03:59Z", "2026-11-20T10:10:00Z")
    )
    assert response.json()["ids"] == [record["Id"]]  # start counts from 10:03:00


async def test_updates_move_records_into_later_windows(
    api: httpx.AsyncClient, state: SalesforceState, clock: FakeClock
) -> None:
    record = state.create_record("Call2_vod__c", {})
    clock.advance(minutes=20)
    state.update_record("Call2_vod__c", record["Id"], {"Subject_vod__c": "edited"})
    clock.advance(minutes=5)
    first = await api.get(f"{CALLS}/updated/", params=window("2026-11-20T09:00:00Z", "2026-11-20T10:10:00Z"))
    second = await api.get(f"{CALLS}/updated/", params=window("2026-11-20T10:10:00Z", "2026-11-20T10:25:00Z"))
    assert first.json()["ids"] == []
    assert second.json()["ids"] == [record["Id"]]


async def test_deleted_lists_deletions_with_dates(
    api: httpx.AsyncClient, state: SalesforceState, clock: FakeClock
) -> None:
    record = state.create_record("Call2_vod__c", {})
    other = state.create_record("Account", {"LastName": "Not a call"})
    clock.advance(minutes=2, seconds=7)
    state.delete_record("Call2_vod__c", record["Id"])  # 10:02:07
    state.delete_record("Account", other["Id"])
    clock.advance(minutes=5)

    response = await api.get(
        f"{CALLS}/deleted/", params=window("2026-11-20T10:00:00Z", "2026-11-20T10:30:00Z")
    )
    assert response.status_code == 200
    assert response.json() == {
        "deletedRecords": [{"id": record["Id"], "deletedDate": "2026-11-20T10:02:07.000+0000"}],
        "earliestDateAvailable": "2026-11-20T10:02:00.000+0000",
        "latestDateCovered": "2026-11-20T10:07:00.000+0000",
    }


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start": "2026-11-20T10:00:00Z"}, "MISSING_ARGUMENT"),
        (window("yesterday", "2026-11-20T10:00:00Z"), "INVALID_REPLICATION_DATE"),
        (window("2026-11-20T10:05:00Z", "2026-11-20T10:05:59Z"), "INVALID_REPLICATION_DATE"),
        (window("2026-10-01T00:00:00Z", "2026-11-20T10:00:00Z"), "INVALID_REPLICATION_DATE"),
    ],
)
async def test_bad_windows(api: httpx.AsyncClient, params: dict[str, str], code: str) -> None:
    response = await api.get(f"{CALLS}/updated/", params=params)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == code


async def test_deleted_reaches_back_15_days_only(api: httpx.AsyncClient) -> None:
    params = window("2026-11-01T00:00:00Z", "2026-11-20T10:00:00Z")  # fine for updated (30 days)
    assert (await api.get(f"{CALLS}/updated/", params=params)).status_code == 200
    assert (await api.get(f"{CALLS}/deleted/", params=params)).status_code == 400
