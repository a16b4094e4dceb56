"""What stands in front of every REST API call: faults, the session check, the daily limit, the call log.

Order matters and follows the platform: a call with a bad session is refused before it counts against the
org's daily allowance; every counted call carries ``Sforce-Limit-Info``. The versions list
(``GET /services/data/``) needs no session and does not count. ``/_sim`` admin routes never pass here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from app.simulators.common.faults import FaultDecision, FaultKind, apply_delay
from app.simulators.salesforce.state import SalesforceState
from app.simulators.salesforce.web import API_PREFIX, error_response

Handler = Callable[[Request], Awaitable[Response]]

SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
DAILY_LIMIT = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
CONCURRENT_LIMIT = [
    {"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
]
TOO_LONG = [
    {
        "message": "Your request was running for too long, and has been stopped.",
        "errorCode": "REQUEST_RUNNING_TOO_LONG",
    }
]


def _server_error(status: int) -> list[dict[str, str]]:
    if status == 503:
        return [{"message": "Server temporarily unavailable.", "errorCode": "SERVER_UNAVAILABLE"}]
    return [
        {
            "message": "An unexpected error occurred. Please include this ErrorId if you contact support: "
            "1385577711-51327 (-1263837195)",
            "errorCode": "UNKNOWN_EXCEPTION",
        }
    ]


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "oauth"):  # the platform still accepts the old OAuth scheme
        return None
    return token.strip() or None


def calling_client(request: Request) -> str | None:
    """The client name a caller declares in ``Sforce-Call-Options: client=...``."""
    for option in request.headers.get("sforce-call-options", "").split(","):
        name, _, value = option.strip().partition("=")
        if name.lower() == "client" and value:
            return value
    return None


def install_gateway(app: FastAPI, state: SalesforceState) -> None:
    @app.middleware("http")
    async def gateway(request: Request, call_next: Handler) -> Response:
        path = request.url.path
        if not path.startswith(API_PREFIX) or path.rstrip("/") == API_PREFIX:
            return await call_next(request)
        started = time.time()
        decision = state.faults.decide()
        response, fault = await _screen(request, decision)
        if response is None:
            response = await call_next(request)
        if response.status_code != 401:
            response.headers["Sforce-Limit-Info"] = f"api-usage={state.api_usage}/{state.daily_api_limit}"
        records = getattr(request.state, "records", 0)
        client = calling_client(request)
        state.calls.record(
            request.method, path, response.status_code, records, fault, client_id=client, started=started
        )
        return response

    async def _screen(request: Request, decision: FaultDecision) -> tuple[Response | None, str]:
        """A response that replaces the handler's (with the fault it shows), or None to go on."""
        await apply_delay(decision)  # added latency, or the whole hang of a timeout
        if decision.kind is FaultKind.TIMEOUT:
            return error_response(504, TOO_LONG), FaultKind.TIMEOUT.value
        token = bearer_token(request)
        session = state.session(token) if token else None
        if session is None:
            return error_response(401, SESSION_EXPIRED), FaultKind.NONE.value
        if state.api_usage >= state.daily_api_limit:
            return error_response(403, DAILY_LIMIT), FaultKind.NONE.value
        if decision.kind is FaultKind.RATE_LIMITED:
            headers = {"Retry-After": str(math.ceil(decision.retry_after))}
            return error_response(state.rate_limit_status, CONCURRENT_LIMIT, headers), decision.kind.value
        state.api_usage += 1
        if decision.kind is FaultKind.SERVER_ERROR:
            return error_response(decision.status, _server_error(decision.status)), decision.kind.value
        request.state.user_id = session.user_id
        return None, FaultKind.NONE.value
