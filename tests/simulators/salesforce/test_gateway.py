"""What every API call goes through: the daily allowance, fault switches and the call log."""

from __future__ import annotations

import time

import httpx
import pytest

from app.simulators.common.faults import FaultSettings
from app.simulators.salesforce import SalesforceState
from tests.simulators.salesforce.conftest import V

DESCRIBE = f"{V}/sobjects/Account/describe"


async def test_limit_info_counts_calls(api: httpx.AsyncClient, state: SalesforceState) -> None:
    state.daily_api_limit = 5000
    first = await api.get(DESCRIBE)
    second = await api.get(f"{V}/sobjects/Account/001000000000000AAA")  # a 404 still counts
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/5000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/5000"


async def test_exhausted_allowance_is_403_request_limit_exceeded(
    api: httpx.AsyncClient, state: SalesforceState
) -> None:
    state.daily_api_limit = 2
    assert (await api.get(DESCRIBE)).status_code == 200
    assert (await api.get(DESCRIBE)).status_code == 200
    refused = await api.get(DESCRIBE)
    assert refused.status_code == 403
    assert refused.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=2/2"


async def test_server_errors_answer_error_arrays(api: httpx.AsyncClient, state: SalesforceState) -> None:
    state.configure_faults(FaultSettings(error_rate=1.0, error_status=503))
    unavailable = await api.get(DESCRIBE)
    assert unavailable.status_code == 503
    assert unavailable.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    state.configure_faults(FaultSettings(error_rate=1.0, error_status=500))
    crashed = await api.get(DESCRIBE)
    assert crashed.status_code == 500
    assert crashed.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert [c.fault for c in state.calls.calls[-2:]] == ["server_error", "server_error"]


async def test_error_rate_is_a_fraction_of_calls(api: httpx.AsyncClient, state: SalesforceState) -> None:
    state.configure_faults(FaultSettings(error_rate=0.5, seed=7))
    statuses = [(await api.get(DESCRIBE)).status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35
    assert set(statuses) == {200, 503}


@pytest.mark.parametrize("status", [403, 429])
async def test_rate_limit_bursts_carry_retry_after(
    api: httpx.AsyncClient, state: SalesforceState, status: int
) -> None:
    state.configure_faults(
        FaultSettings(rate_limit_burst=2, retry_after_seconds=1.5), rate_limit_status=status
    )
    first, second, third = [await api.get(DESCRIBE) for _ in range(3)]
    for limited in (first, second):
        assert limited.status_code == status
        assert limited.headers["Retry-After"] == "2"
        assert limited.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert third.status_code == 200
    assert [c.fault for c in state.calls.calls[-3:]] == ["rate_limited", "rate_limited", "none"]


async def test_latency_is_added(api: httpx.AsyncClient, state: SalesforceState) -> None:
    state.configure_faults(FaultSettings(latency_ms=150))
    started = time.monotonic()
    assert (await api.get(DESCRIBE)).status_code == 200
    assert time.monotonic() - started >= 0.15


async def test_timeout_hangs_then_gives_up(api: httpx.AsyncClient, state: SalesforceState) -> None:
    """In-process transports have no client timeout: the hang shows as time (see test_server for a real one)."""
    state.configure_faults(FaultSettings(timeout_calls=1, timeout_seconds=0.3))
    started = time.monotonic()
    hung = await api.get(DESCRIBE)
    assert time.monotonic() - started >= 0.3
    assert hung.status_code == 504
    assert state.calls.calls[-1].fault == "timeout"
    assert (await api.get(DESCRIBE)).status_code == 200


async def test_call_log_records_method_path_status_batch_and_client(
    api: httpx.AsyncClient, state: SalesforceState
) -> None:
    state.calls.clear()
    body = {
        "records": [
            {"attributes": {"type": "Account"}, "External_ID_vod__c": f"H{i}", "LastName": "L"}
            for i in range(3)
        ]
    }
    await api.patch(
        f"{V}/composite/sobjects/Account/External_ID_vod__c",
        json=body,
        headers={"Sforce-Call-Options": "client=ctms-bridge"},
    )
    await api.get(DESCRIBE)
    await api.get("/_sim/calls")  # admin routes are neither logged nor counted
    logged = [(c.method, c.path, c.status, c.records, c.fault, c.client_id) for c in state.calls.calls]
    assert logged == [
        ("PATCH", f"{V}/composite/sobjects/Account/External_ID_vod__c", 200, 3, "none", "ctms-bridge"),
        ("GET", DESCRIBE, 200, 0, "none", None),
    ]
    assert state.api_usage == 2
