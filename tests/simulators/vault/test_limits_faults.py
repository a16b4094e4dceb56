"""Burst headers, throttling by delay, the call log, and every fault switch (in-process and over HTTP)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from app.simulators.common.faults import FaultSettings
from tests.simulators.vault.conftest import V, Vault


async def _call(vault: Vault) -> tuple[float, dict[str, str], int, dict[str, Any]]:
    started = time.perf_counter()
    response = await vault.client.get(f"/api/{V}/metadata/vobjects", headers=vault.auth)
    return time.perf_counter() - started, dict(response.headers), response.status_code, response.json()


async def test_every_api_response_carries_burst_headers_counting_down(vault: Vault) -> None:
    vault.state.faults.configure(FaultSettings(burst_limit=50))

    remaining = []
    for _ in range(3):
        _, headers, _, _ = await _call(vault)
        assert headers["x-vaultapi-burstlimit"] == "50"
        assert "x-vaultapi-responsedelay" not in headers
        remaining.append(int(headers["x-vaultapi-burstlimitremaining"]))

    assert remaining[1] == remaining[0] - 1
    assert remaining[2] == remaining[0] - 2
    failed = await vault.client.get(f"/api/{V}/metadata/vobjects", headers={"Authorization": "bad"})
    assert "x-vaultapi-burstlimitremaining" in failed.headers  # failures are API calls too


async def test_low_burst_remaining_delays_responses_and_says_so(vault: Vault) -> None:
    vault.state.faults.configure(FaultSettings(burst_limit=4, throttle_below=2, throttle_delay_ms=150))
    vault.state.burst.used = 0

    fast, fast_headers, _, _ = await _call(vault)  # 3 left
    _, _, _, _ = await _call(vault)  # 2 left
    slow, slow_headers, status, body = await _call(vault)  # 1 left: below 2
    _, _, _, _ = await _call(vault)  # 0 left
    spent, spent_headers, spent_status, spent_body = await _call(vault)  # over budget: still answered

    assert "x-vaultapi-responsedelay" not in fast_headers
    assert fast < 0.15
    assert slow_headers["x-vaultapi-responsedelay"] == "150"
    assert slow >= 0.15
    assert status == 200
    assert body["responseStatus"] == "SUCCESS"
    assert spent_headers["x-vaultapi-burstlimitremaining"] == "0"
    assert spent >= 0.15
    assert spent_status == 200
    assert spent_body["responseStatus"] == "SUCCESS"


async def test_burst_window_refills(vault: Vault) -> None:
    vault.state.faults.configure(FaultSettings(burst_limit=5, burst_window_seconds=0.2))
    vault.state.burst.used = 0
    for _ in range(3):
        await _call(vault)
    await asyncio.sleep(0.25)

    _, headers, _, _ = await _call(vault)

    assert headers["x-vaultapi-burstlimitremaining"] == "4"


async def test_call_log_records_method_path_status_batch_size_and_client_id(vault: Vault) -> None:
    vault.state.calls.clear()
    await vault.client.post(
        f"/api/{V}/vobjects/study__v",
        json=[{"name__v": "S1"}, {"name__v": "S2"}],
        headers={**vault.auth, "X-VaultAPI-ClientID": "acme-bridge-client"},
    )
    await vault.client.get("/_sim/calls")  # admin routes are not API calls

    calls = vault.state.calls.calls
    assert [(c.method, c.path, c.status, c.records, c.fault, c.client_id) for c in calls] == [
        ("POST", f"/api/{V}/vobjects/study__v", 200, 2, "none", "acme-bridge-client")
    ]
    listed = (await vault.client.get("/_sim/calls")).json()
    assert listed[0]["records"] == 2
    assert (await vault.client.delete("/_sim/calls")).status_code == 204
    assert vault.state.calls.calls == []


async def test_error_rate_answers_5xx_with_exception_body(vault: Vault) -> None:
    vault.state.faults.configure(FaultSettings(error_rate=1.0, error_status=502))

    _, headers, status, body = await _call(vault)

    assert status == 502
    assert body["responseStatus"] == "EXCEPTION"
    assert "x-vaultapi-burstlimit" in headers
    assert vault.state.calls.calls[-1].fault == "server_error"


async def test_error_rate_is_a_fraction_and_repeatable_with_a_seed(vault: Vault) -> None:
    async def statuses() -> list[int]:
        vault.state.faults.configure(FaultSettings(error_rate=0.5, seed=7))
        return [(await _call(vault))[2] for _ in range(40)]

    first, second = await statuses(), await statuses()

    assert first == second
    assert 5 <= first.count(503) <= 35
    assert first.count(200) + first.count(503) == 40


async def test_rate_limit_bursts_answer_api_limit_exceeded_the_vault_way(vault: Vault) -> None:
    vault.state.faults.configure(FaultSettings(rate_limit_burst=2, retry_after_seconds=3))

    results = [await _call(vault) for _ in range(3)]

    assert [status for _, _, status, _ in results] == [200, 200, 200]  # Vault fails in the body
    _, headers, _, body = results[0]
    assert "retry-after" not in headers  # Vault documents no Retry-After
    assert (body["responseStatus"], body["errors"][0]["type"]) == ("FAILURE", "API_LIMIT_EXCEEDED")
    assert results[2][3]["responseStatus"] == "SUCCESS"
    assert [c.fault for c in vault.state.calls.calls[-3:]] == ["rate_limited", "rate_limited", "none"]


async def test_recurring_rate_limit_bursts(vault: Vault) -> None:
    vault.state.faults.configure(FaultSettings(rate_limit_burst=1, rate_limit_every=2, retry_after_seconds=0))

    statuses = [(await _call(vault))[3]["responseStatus"] for _ in range(7)]

    assert statuses == ["FAILURE", "SUCCESS", "SUCCESS", "FAILURE", "SUCCESS", "SUCCESS", "FAILURE"]


async def test_added_latency(vault: Vault) -> None:
    vault.state.faults.configure(FaultSettings(latency_ms=120))

    elapsed, _, status, _ = await _call(vault)

    assert status == 200
    assert elapsed >= 0.12


async def test_timeout_calls_never_answer_in_time(vault: Vault) -> None:
    vault.state.faults.configure(FaultSettings(timeout_calls=1, timeout_seconds=5))

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(vault.client.get(f"/api/{V}/metadata/vobjects", headers=vault.auth), 0.2)
    _, _, status, _ = await _call(vault)  # only the next N calls hang

    assert status == 200
    assert [c.fault for c in vault.state.calls.calls[-2:]] == ["timeout", "none"]


async def test_faults_switch_over_http(vault: Vault) -> None:
    put = await vault.client.put("/_sim/faults", json={"error_rate": 1.0, "error_status": 500})
    assert put.status_code == 200
    assert put.json()["error_rate"] == 1.0
    assert (await vault.client.get("/_sim/faults")).json()["error_status"] == 500
    assert (await _call(vault))[2] == 500

    await vault.client.put("/_sim/faults", json={})
    assert (await _call(vault))[2] == 200
    invalid = await vault.client.put("/_sim/faults", json={"error_rate": 2})
    assert invalid.status_code == 422


async def test_faults_do_not_touch_admin_routes(vault: Vault) -> None:
    vault.state.faults.configure(FaultSettings(error_rate=1.0))

    assert (await vault.client.get("/_sim/records/study__v")).status_code == 200
    assert vault.state.calls.calls[-1].path.endswith("/auth")  # only the fixture's login was logged
