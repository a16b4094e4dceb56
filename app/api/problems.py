"""RFC 9457 problem details: every error the API returns has a status, a stable code and a message."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.logging import get_logger

log = get_logger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://ctms-crm-bridge.dev/problems/"


class ProblemDetail(BaseModel):
    """The body of every error answer (``application/problem+json``)."""

    type: str = Field(examples=[PROBLEM_BASE + "validation-failed"])
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    code: str = Field(description="stable, machine-readable", examples=["VALIDATION_FAILED"])
    detail: str = Field(description="for a human", examples=["the request does not match the schema"])


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.title = title or TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extra = extra or {}


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem_response(problem: Problem) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + problem.code.lower().replace("_", "-"),
        "title": problem.title,
        "status": problem.status,
        "code": problem.code,
        "detail": problem.detail,
        **problem.extra,
    }
    return JSONResponse(body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON)


def problem_example(status: int, code: str, detail: str) -> dict[str, Any]:
    """A problem+json body as the API sends it, for the OpenAPI document's examples."""
    return {
        "type": PROBLEM_BASE + code.lower().replace("_", "-"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
    }


# The commonest answer per status on the routes that give no example of their own (the webhooks).
_DEFAULT_EXAMPLES: dict[int, tuple[str, str]] = {
    401: ("SIGNATURE_INVALID", "no webhook-signature matches the body"),
    404: ("CONNECTION_NOT_FOUND", "no active connection with this id"),
    413: ("BODY_TOO_LARGE", "the body is larger than 262144 bytes"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "send the event as application/json"),
    422: ("ENVELOPE_INVALID", "the event does not match the envelope"),
    503: ("STORE_UNAVAILABLE", "the event could not be stored; retry later"),
}


def problem_responses(
    *statuses: int, examples: dict[int, tuple[str, str]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the error answers a route can give.

    ``examples`` (status: code, detail) says what this route answers; without one a status gets the
    webhook answer above. The example goes under ``application/json``, which ``app/api/openapi.py``
    moves to ``application/problem+json``.
    """
    table = examples if examples is not None else _DEFAULT_EXAMPLES
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ProblemDetail, "description": TITLES.get(status, "Error")}
        if status in table:
            code, detail = table[status]
            entry["content"] = {"application/json": {"example": problem_example(status, code, detail)}}
        out[status] = entry
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return problem_response(
            Problem(
                422, "VALIDATION_FAILED", "the request does not match the schema", extra={"errors": errors}
            )
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # the details stay in our logs (with the traceback); the caller gets a stable code
        log.error("unhandled_error", error=type(exc).__name__, exc_info=exc)
        return problem_response(Problem(500, "INTERNAL_ERROR", "the bridge failed to handle this request"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "BODY_NOT_PARSABLE", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
            exc.status_code, f"HTTP_{exc.status_code}"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(Problem(exc.status_code, code, str(exc.detail), headers=headers))


def _allowed_methods(request: Request) -> str:
    """Every method some route answers on this path: Starlette names only the first route's."""
    methods: set[str] = set()
    for route in _leaf_routes(request.app.router.routes):
        match, _child = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def _leaf_routes(routes: Any) -> Any:
    # FastAPI keeps included routers nested (none of ours has a prefix, so each route's own path holds)
    for route in routes:
        nested = getattr(getattr(route, "original_router", None), "routes", None)
        yield from _leaf_routes(nested) if nested is not None else (route,)
