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

    type: str = Field(examples=[PROBLEM_BASE + "signature-invalid"])
    title: str = Field(examples=["Unauthorized"])
    status: int = Field(examples=[401])
    code: str = Field(description="stable, machine-readable", examples=["SIGNATURE_INVALID"])
    detail: str = Field(description="for a human", examples=["no webhook-signature matches the body"])


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


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the error answers a route can give."""
    return {s: {"model": ProblemDetail, "description": TITLES.get(s, "Error")} for s in statuses}


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
