"""VaultClient against the Vault simulator: sessions, the error taxonomy, batched writes, reads, pacing."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from itertools import count
from typing import Any

import httpx
import pytest

from app.clients.errors import AuthError, PermanentError, TransientError
from app.clients.throttle import LocalGate, ThrottledError
from app.clients.vault import CLIENT_ID, VaultClient
from app.simulators.common.faults import FaultSettings
from app.simulators.common.server import ServerThread
from app.simulators.vault import VaultState, create_vault_app
from app.simulators.vault.state import BurstWindow
from tests.clients.conftest import Clock, Rig, api_calls, vault_credentials

ACTIVITY = "crm_activity__v"


def person(state: VaultState, identifier: str = "HCP-1") -> str:
    created = state.user_create(
        "person__sys",
        {
            "first_name__sys": "Ana",
            "last_name__sys": "Silva",
            "email__sys": "a@example.com",
            "external_id__v": identifier,
        },
    )
    return str(created["id"])


def activity(external_id: str, person_id: str, **fields: Any) -> dict[str, Any]:
    return {"external_id__v": external_id, "person__v": person_id, "channel__v": "video__v", **fields}


def study(state: VaultState, name: str) -> str:
    return str(state.user_create("study__v", {"name__v": name})["id"])


# ---- login and sessions ---------------------------------------------------------------------------------


async def test_logs_in_once_and_reuses_the_session(
    vault_client: VaultClient, vault_rig: Rig, vault_state: VaultState
) -> None:
    study_id = study(vault_state, "S-1")

    await vault_client.describe("study__v")
    assert await vault_client.get("study__v", study_id) is not None
    await vault_client.query("SELECT id FROM study__v")

    assert len(api_calls(vault_state, "/auth")) == 1
    data_calls = [r for r in vault_rig.requests if not r.url.path.endswith("/auth")]
    assert len(data_calls) == 3
    assert {r.headers["authorization"] for r in data_calls} == {f"Bearer {next(iter(vault_state.sessions))}"}


async def test_every_call_identifies_the_client(vault_client: VaultClient, vault_state: VaultState) -> None:
    who = person(vault_state)
    await vault_client.upsert(ACTIVITY, [activity("A-1", who)], "external_id__v")
    await vault_client.query("SELECT id FROM study__v")
    await vault_client.deleted_ids(ACTIVITY, "2026-11-01T00:00:00Z")

    calls = vault_state.calls.calls
    assert len(calls) == 4  # auth, upsert, query, deletions
    assert {c.client_id for c in calls} == {CLIENT_ID}


async def test_a_login_that_reaches_another_vault_is_refused(vault_rig: Rig, vault_state: VaultState) -> None:
    client = VaultClient(vault_rig.http, vault_credentials(vault_id="9999"))

    with pytest.raises(AuthError) as caught:
        await client.describe("study__v")

    assert caught.value.code == "VAULT_ID_MISMATCH"
    assert api_calls(vault_state) == ["/api/v25.2/auth"]  # no data call went to the wrong vault


async def test_bad_credentials_are_an_auth_error(vault_rig: Rig, vault_state: VaultState) -> None:
    client = VaultClient(vault_rig.http, vault_credentials(password="wrong"))

    with pytest.raises(AuthError) as caught:
        await client.query("SELECT id FROM study__v")

    assert caught.value.code == "USERNAME_OR_PASSWORD_INCORRECT"
    assert not isinstance(caught.value, TransientError)
    assert api_calls(vault_state) == ["/api/v25.2/auth"]


async def test_idle_session_expiry_logs_in_again_once(
    vault_client: VaultClient, vault_state: VaultState, clock: Clock
) -> None:
    study_id = study(vault_state, "S-1")
    await vault_client.describe("study__v")
    clock.advance(seconds=vault_state.config.session_idle_timeout_seconds + 60)

    record = await vault_client.get("study__v", study_id)

    assert record is not None
    assert record["name__v"] == "S-1"
    assert len(api_calls(vault_state, "/auth")) == 2


async def test_forced_expiry_logs_in_again_and_resends_the_same_write(
    vault_client: VaultClient, vault_rig: Rig, vault_state: VaultState
) -> None:
    who = person(vault_state)
    await vault_client.describe(ACTIVITY)
    assert vault_state.expire_sessions() == 1

    result = await vault_client.upsert(ACTIVITY, [activity("A-1", who, subject__v="s")], "external_id__v")

    assert [r.ok for r in result.results] == [True]
    assert result.results[0].created
    assert len(api_calls(vault_state, "/auth")) == 2
    attempts = vault_rig.sent("/api/v25.2/vobjects/crm_activity__v")
    assert len(attempts) == 2  # refused with INVALID_SESSION_ID, then sent again under the new session
    assert attempts[0].headers["authorization"] != attempts[1].headers["authorization"]
    # the retry is the same request: the JSON body and its content type (Vault needs it to read the body)
    assert [a.headers.get("content-type") for a in attempts] == ["application/json"] * 2
    assert attempts[0].content == attempts[1].content
    assert [r["subject__v"] for r in vault_state.records_of(ACTIVITY)] == ["s"]


async def test_a_vault_that_refuses_every_fresh_session_is_an_auth_error(
    vault_client: VaultClient, vault_state: VaultState
) -> None:
    start, looks = Clock().now, count()
    # every time the vault looks at its clock an hour has passed: each session is stale at first use
    vault_state.clock = lambda: start + timedelta(hours=next(looks))

    with pytest.raises(AuthError) as caught:
        await vault_client.describe("study__v")

    assert caught.value.code == "INVALID_SESSION_ID"
    assert len(api_calls(vault_state, "/auth")) == 2  # one fresh login, not a loop
    assert len(api_calls(vault_state, "/metadata/")) == 2


# ---- writes -----------------------------------------------------------------------------------------------


async def test_upsert_results_are_per_record_in_input_order(
    vault_client: VaultClient, vault_state: VaultState
) -> None:
    who = person(vault_state)
    first = await vault_client.upsert(
        ACTIVITY,
        [activity("A-1", who, subject__v="one"), activity("A-2", who, subject__v="two")],
        "external_id__v",
    )
    id1, id2 = (r.id for r in first.results)

    second = await vault_client.upsert(
        ACTIVITY,
        [
            activity("A-2", who, subject__v="two"),  # same values: NO_DATA_CHANGES warning
            activity("A-1", who, subject__v="changed"),
            activity("A-3", who, channel__v="fax__v"),  # not in the picklist
            activity("A-4", who),
        ],
        "external_id__v",
    )

    assert [(r.ok, r.created, r.unchanged) for r in first.results] == [(True, True, False)] * 2
    assert id1
    assert id2
    assert id1 != id2
    unchanged, updated, invalid, created = second.results
    assert (unchanged.ok, unchanged.id, unchanged.created, unchanged.unchanged) == (True, id2, False, True)
    assert (updated.ok, updated.id, updated.created, updated.unchanged) == (True, id1, False, False)
    assert (invalid.ok, invalid.error_code, invalid.transient) == (False, "INVALID_DATA", False)
    assert "channel__v" in (invalid.error_message or "")
    assert (created.ok, created.created) == (True, True)
    assert created.id not in (id1, id2)
    assert second.call.operation == f"upsert {ACTIVITY}"
    assert second.call.http_status == 200
    assert vault_state.find(ACTIVITY, "external_id__v", "A-1")["subject__v"] == "changed"  # type: ignore[index]
    assert vault_state.find(ACTIVITY, "external_id__v", "A-3") is None


async def test_update_by_id(vault_client: VaultClient, vault_state: VaultState) -> None:
    study_id = study(vault_state, "S-1")

    result = await vault_client.update("study__v", [{"id": study_id, "phase__v": "phase_2__v"}])

    assert [(r.ok, r.id) for r in result.results] == [(True, study_id)]
    assert vault_state.get("study__v", study_id)["phase__v"] == ["phase_2__v"]  # type: ignore[index]


@pytest.mark.parametrize("count", [0, 501])
async def test_batch_size_is_checked_before_any_call(
    vault_client: VaultClient, vault_state: VaultState, count: int
) -> None:
    with pytest.raises(ValueError, match="1 to 500"):
        await vault_client.upsert(
            ACTIVITY, [{"external_id__v": f"A-{i}"} for i in range(count)], "external_id__v"
        )

    assert vault_state.calls.calls == []  # not even a login


async def test_a_batch_of_500_is_accepted(vault_client: VaultClient, vault_state: VaultState) -> None:
    result = await vault_client.upsert(
        "study__v", [{"name__v": f"S-{i}", "external_id__v": f"S-{i}"} for i in range(500)], "external_id__v"
    )

    assert len(result.results) == 500
    assert all(r.ok and r.created for r in result.results)


async def test_a_whole_call_failure_is_permanent(vault_client: VaultClient, vault_state: VaultState) -> None:
    who = person(vault_state)

    with pytest.raises(PermanentError) as duplicate:  # the same id value twice in one batch
        await vault_client.upsert(ACTIVITY, [activity("A-1", who), activity("A-1", who)], "external_id__v")
    with pytest.raises(PermanentError) as syntax:
        await vault_client.query("SELECT id FROM WHERE")
    with pytest.raises(PermanentError) as unknown:
        await vault_client.describe("nothing__c")

    assert duplicate.value.code == "INVALID_DATA"
    assert syntax.value.code == "INCORRECT_QUERY_SYNTAX_ERROR"
    assert unknown.value.code == "MALFORMED_URL"
    assert syntax.value.http_status == 200  # Vault fails with HTTP 200: the body decides
    assert vault_state.records_of(ACTIVITY) == []


# ---- the error taxonomy -------------------------------------------------------------------------------------


async def test_server_errors_are_transient(vault_client: VaultClient, vault_state: VaultState) -> None:
    vault_state.faults.configure(FaultSettings(error_rate=1.0, error_status=503))
    with pytest.raises(TransientError) as at_login:
        await vault_client.describe("study__v")

    vault_state.faults.reset()
    await vault_client.login()
    vault_state.faults.configure(FaultSettings(error_rate=1.0, error_status=502))
    with pytest.raises(TransientError) as at_call:
        await vault_client.query("SELECT id FROM study__v")

    assert at_login.value.http_status == 503
    assert (at_call.value.code, at_call.value.http_status) == ("HTTP_502", 502)
    vault_state.faults.reset()
    assert await vault_client.query("SELECT id FROM study__v") == []  # nothing stuck after the fault


async def test_api_limit_exceeded_is_transient_and_pauses_the_vault_at_the_gate(
    vault_rig: Rig, vault_state: VaultState, clock: Clock
) -> None:
    gate = LocalGate(default_pause=7.0, max_wait=0.1, clock=clock)
    vault_client = VaultClient(vault_rig.http, vault_credentials(), gate=gate)
    await vault_client.login()
    vault_state.faults.configure(FaultSettings(rate_limit_burst=1))

    with pytest.raises(TransientError) as caught:
        await vault_client.describe("study__v")
    assert (caught.value.code, caught.value.http_status) == ("API_LIMIT_EXCEEDED", 200)

    calls = len(vault_state.calls.calls)
    clock.advance(seconds=6.5)  # inside the pause: refused here, the vault never sees the call
    with pytest.raises(ThrottledError) as held:
        await vault_client.describe("study__v")
    assert held.value.until == clock.now + timedelta(seconds=0.5)
    assert len(vault_state.calls.calls) == calls

    clock.advance(seconds=0.5)
    assert (await vault_client.describe("study__v"))["name"] == "study__v"


async def test_http_429_pauses_the_vault_for_its_retry_after(vault_state: VaultState, clock: Clock) -> None:
    """A proxy in front of a vault may answer 429 with Retry-After: honoured like Vault's own limits."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, json={"responseStatus": "SUCCESS", "sessionId": "s", "vaultId": 4242})
        return httpx.Response(429, headers={"Retry-After": "3"}, text="slow down")

    gate = LocalGate(max_wait=1.0, clock=clock)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = VaultClient(http, vault_credentials(), target="ctms", gate=gate)
        with pytest.raises(TransientError) as caught:
            await client.describe("study__v")
    assert (caught.value.code, caught.value.retry_after) == ("HTTP_429", 3.0)
    assert gate.paused("ctms") == (clock.now + timedelta(seconds=3), "HTTP_429")


async def test_a_vault_exception_answered_with_http_200_is_not_an_empty_result() -> None:
    """Vault's responseStatus EXCEPTION (a system error) fails the call like FAILURE; it is not data."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, json={"responseStatus": "SUCCESS", "sessionId": "S1", "vaultId": 4242})
        error = {"type": "UNEXPECTED_ERROR", "message": "An unexpected error occurred"}
        return httpx.Response(200, json={"responseStatus": "EXCEPTION", "errors": [error]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = VaultClient(http, vault_credentials())
        with pytest.raises(TransientError) as query:
            await client.query("SELECT id FROM study__v")
        with pytest.raises(TransientError) as read:
            await client.get("study__v", "V1S000000000001")

    assert query.value.code == read.value.code == "UNEXPECTED_ERROR"


async def test_a_call_that_does_not_answer_in_time_is_a_transient_timeout() -> None:
    """Over a real local socket: ASGITransport has no timeouts, a server does."""
    state = VaultState()
    with ServerThread(create_vault_app(state)) as server:
        async with httpx.AsyncClient(timeout=0.15) as http:
            client = VaultClient(http, vault_credentials(url=server.url))
            await client.login()
            state.faults.configure(FaultSettings(timeout_calls=1, timeout_seconds=0.6))

            started = time.perf_counter()
            with pytest.raises(TransientError) as caught:
                await client.describe("study__v")
            waited = time.perf_counter() - started

            assert caught.value.code == "TIMEOUT"
            assert waited < 0.5
            http.timeout = httpx.Timeout(5.0)  # the next call goes through (given time, on a busy machine)
            assert (await client.describe("study__v"))["name"] == "study__v"


async def test_an_unreachable_vault_is_transient() -> None:
    with socket.socket() as probe:  # a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient(timeout=2) as http:
        client = VaultClient(http, vault_credentials(url=f"http://127.0.0.1:{port}"))
        with pytest.raises(TransientError) as caught:
            await client.describe("study__v")

    assert caught.value.code == "UNREACHABLE"


# ---- reads -----------------------------------------------------------------------------------------------------


async def test_query_follows_next_page_to_the_last_row(
    vault_client: VaultClient, vault_state: VaultState
) -> None:
    vault_state.config.query_page_size = 2
    ids = {study(vault_state, f"S-{i}") for i in range(5)}

    rows = await vault_client.query("SELECT id, name__v FROM study__v")

    assert len(rows) == 5
    assert {r["id"] for r in rows} == ids
    assert len(api_calls(vault_state, "/query")) == 3  # 2 + 2 + 1 rows


async def test_deleted_ids(vault_client: VaultClient, vault_state: VaultState, clock: Clock) -> None:
    who = person(vault_state)
    first = vault_state.user_create(ACTIVITY, activity("A-1", who))["id"]
    second = vault_state.user_create(ACTIVITY, activity("A-2", who))["id"]
    clock.advance(hours=1)
    vault_state.user_delete(ACTIVITY, first)
    clock.advance(hours=1)
    vault_state.user_delete(ACTIVITY, second)

    everything = await vault_client.deleted_ids(ACTIVITY, "2026-11-20T00:00:00Z")
    window = await vault_client.deleted_ids(ACTIVITY, "2026-11-20T10:30:00Z", "2026-11-20T11:30:00Z")

    assert everything == [
        {"id": first, "date_deleted": "2026-11-20T11:00:00Z"},
        {"id": second, "date_deleted": "2026-11-20T12:00:00Z"},
    ]
    assert window == [{"id": first, "date_deleted": "2026-11-20T11:00:00Z"}]


async def test_deleted_ids_follow_next_page_past_the_first_thousand(
    vault_client: VaultClient, vault_state: VaultState, clock: Clock
) -> None:
    who = person(vault_state)
    ids = [vault_state.user_create(ACTIVITY, activity(f"A-{i}", who))["id"] for i in range(1005)]
    clock.advance(minutes=1)
    for record_id in ids:
        vault_state.user_delete(ACTIVITY, record_id)

    deleted = await vault_client.deleted_ids(ACTIVITY, "2026-11-20T10:00:30Z")

    assert [d["id"] for d in deleted] == ids
    assert len(api_calls(vault_state, "/objects/deletions/")) == 2  # Vault's pages hold 1,000 ids


async def test_describe_returns_the_object_with_its_fields(vault_client: VaultClient) -> None:
    meta = await vault_client.describe(ACTIVITY)

    assert meta["name"] == ACTIVITY
    fields = {f["name"]: f for f in meta["fields"]}
    assert fields["external_id__v"]["unique"] is True
    assert fields["channel__v"]["type"] == "Picklist"


async def test_get_reads_a_record_and_a_missing_one_is_none(
    vault_client: VaultClient, vault_state: VaultState
) -> None:
    study_id = study(vault_state, "S-1")

    found = await vault_client.get("study__v", study_id)
    missing = await vault_client.get("study__v", "V1S000000009999")

    assert found is not None
    assert (found["id"], found["name__v"]) == (study_id, "S-1")
    assert missing is None


# ---- burst pacing -------------------------------------------------------------------------------------------------


async def test_burst_remaining_is_tracked_and_calls_slow_down_before_the_window_runs_out(
    vault_rig: Rig, vault_state: VaultState, clock: Clock
) -> None:
    delays: list[float] = []

    async def record_sleep(seconds: float) -> None:  # the gate's waits, on a clock of its own
        delays.append(seconds)
        clock.advance(seconds=seconds)

    vault_state.faults.configure(FaultSettings(burst_limit=20, throttle_delay_ms=0))
    vault_state.burst = BurstWindow(started_at=time.monotonic(), used=0)
    client = VaultClient(vault_rig.http, vault_credentials(), gate=LocalGate(clock=clock, sleep=record_sleep))

    paced: list[
        tuple[int | None, list[float]]
    ] = []  # (remaining the client knew before the call, its sleeps)
    for _ in range(22):
        known, before = client.burst_remaining, len(delays)
        await client.describe("study__v")
        paced.append((known, delays[before:]))
        assert client.burst_limit == 20
        assert client.burst_remaining == max(20 - vault_state.burst.used, 0)  # the header, call by call

    quiet = [sleeps for known, sleeps in paced if known is None or known >= 2]  # 10% of 20 or more left
    assert len(quiet) == 19
    assert all(sleeps == [] for sleeps in quiet)
    [last_sleeps] = [s for k, s in paced if k == 1]  # slows down before the window runs out
    assert len(last_sleeps) == 1
    assert 0 < last_sleeps[0] <= 2.0
    spent = [s for k, s in paced if k == 0]
    assert len(spent) == 2
    assert all(len(s) == 1 and last_sleeps[0] < s[0] <= 2.0 for s in spent)  # slower still, capped

    vault_state.burst.started_at -= 301  # the window refills
    await client.describe("study__v")
    assert client.burst_remaining == 19
    before = len(delays)
    await client.describe("study__v")
    assert delays[before:] == []  # full speed again


async def test_an_answer_vault_held_back_pauses_the_vault_for_every_caller_of_the_gate(
    vault_rig: Rig, vault_state: VaultState, clock: Clock
) -> None:
    gate = LocalGate(clock=clock)
    vault_state.faults.configure(FaultSettings(burst_limit=100, throttle_below=1000, throttle_delay_ms=20))
    client = VaultClient(vault_rig.http, vault_credentials(), gate=gate)
    other = VaultClient(vault_rig.http, vault_credentials(), gate=gate)  # another lane, same vault

    await client.describe("study__v")  # answered with X-VaultAPI-ResponseDelay: 20

    assert gate.paused("vault") == (clock.now + timedelta(seconds=0.02), "RESPONSE_DELAY")
    assert other.gate.paused(other.target) is not None
