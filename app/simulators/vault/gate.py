"""What stands in front of every ``/api`` call: fault switches, the burst limit and the call log.

Vault throttles by delay, not by refusal: each response carries ``X-VaultAPI-BurstLimit`` and
``X-VaultAPI-BurstLimitRemaining``, and once the window's budget runs low (or out) responses are held back
and say so in ``X-VaultAPI-ResponseDelay`` (milliseconds). The /auth call has its own limit in Vault, so it
does not consume the general budget here. ``/_sim`` admin routes pass straight through.

A rate-limited call (the ``rate_limited`` fault) is refused the way Vault refuses: HTTP 200 with
``responseStatus`` FAILURE and the error type ``API_LIMIT_EXCEEDED``, without ``Retry-After`` (Vault's
documentation names neither a 429 nor that header; only a proxy in front of a vault would send them).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.simulators.common.faults import FaultDecision, FaultKind, apply_delay
from app.simulators.vault import responses as r

if TYPE_CHECKING:
    from app.simulators.vault.state import VaultState

RECORDS_KEY = "vault_records"  # routes put the batch size here (request.state) for the call log


class ApiGate:
    def __init__(self, app: ASGIApp, state: VaultState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (path == "/api" or path.startswith("/api/")):
            await self.app(scope, receive, send)
            return
        state = self.state
        method = str(scope["method"])
        headers = _header_map(scope)
        decision = state.faults.decide()
        burst_headers = await self._burst(counts=not path.endswith("/auth"))
        if decision.kind is FaultKind.TIMEOUT:
            # Record before hanging: the client gives up long before an answer would come.
            state.calls.record(
                method, path, 504, fault=decision.kind.value, client_id=headers.get("x-vaultapi-clientid")
            )
            await asyncio.sleep(decision.delay_seconds)
            await _send_json(
                send,
                504,
                r.failure_body(r.UNEXPECTED_ERROR, "Gateway timeout", status="EXCEPTION"),
                burst_headers,
            )
            return
        await apply_delay(decision)
        if decision.kind is not FaultKind.NONE:
            status = await _send_fault(send, decision, burst_headers)
            state.calls.record(
                method, path, status, fault=decision.kind.value, client_id=headers.get("x-vaultapi-clientid")
            )
            return

        scope.setdefault("state", {})
        status_seen = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = int(message["status"])
                message["headers"] = [*message.get("headers", []), *_encode(burst_headers)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            records = int(scope["state"].get(RECORDS_KEY, 0))
            state.calls.record(
                method, path, status_seen, records=records, client_id=headers.get("x-vaultapi-clientid")
            )

    async def _burst(self, *, counts: bool) -> dict[str, str]:
        settings = self.state.faults.settings
        remaining = self.state.burst.consume(
            settings.burst_limit, settings.burst_window_seconds, time.monotonic(), count=counts
        )
        headers = {
            "X-VaultAPI-BurstLimit": str(settings.burst_limit),
            "X-VaultAPI-BurstLimitRemaining": str(remaining),
        }
        exhausted = self.state.burst.used >= settings.burst_limit
        if counts and (remaining < settings.throttle_below or exhausted) and settings.throttle_delay_ms > 0:
            await asyncio.sleep(settings.throttle_delay_ms / 1000.0)
            headers["X-VaultAPI-ResponseDelay"] = str(round(settings.throttle_delay_ms))
        return headers


async def _send_fault(send: Send, decision: FaultDecision, headers: dict[str, str]) -> int:
    if decision.kind is FaultKind.RATE_LIMITED:
        body = r.failure_body(r.API_LIMIT_EXCEEDED, "API limit exceeded; retry later")
        await _send_json(send, 200, body, headers)
        return 200
    body = r.failure_body(r.UNEXPECTED_ERROR, "Service temporarily unavailable", status="EXCEPTION")
    await _send_json(send, decision.status, body, headers)
    return decision.status


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = orjson.dumps(body)
    all_headers = {**headers, "content-type": "application/json", "content-length": str(len(payload))}
    await send({"type": "http.response.start", "status": status, "headers": _encode(all_headers)})
    await send({"type": "http.response.body", "body": payload})


def _encode(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def _header_map(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
