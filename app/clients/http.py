"""One outbound HTTP call with timing, metrics and transport faults turned into TransientError."""

from __future__ import annotations

import time
from typing import Any

import httpx

from app import metrics
from app.clients.errors import TransientError
from app.clients.turns import let_go


async def send(
    http: httpx.AsyncClient, target: str, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, int]:
    """Returns the response and the call's duration in ms; raises TransientError when nothing came back."""
    started = time.perf_counter()
    try:
        let_go()  # another batch prepares while this call is out
        response = await http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        metrics.API_CALLS.labels(target, "timeout").inc()
        raise TransientError("TIMEOUT", f"no answer from {target} in time ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        metrics.API_CALLS.labels(target, "unreachable").inc()
        raise TransientError("UNREACHABLE", f"{target} could not be reached ({type(exc).__name__})") from None
    metrics.API_CALLS.labels(target, str(response.status_code)).inc()
    return response, int((time.perf_counter() - started) * 1000)


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
