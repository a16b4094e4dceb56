"""Operator routes: service errors become problem+json answers, in one place for every router."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import InterfaceError, OperationalError

from app.api.problems import Problem, problem_responses
from app.logging import get_logger
from app.services.operator_errors import (
    Conflict,
    Invalid,
    NotFound,
    OperatorError,
    Unauthenticated,
    Unavailable,
)

log = get_logger(__name__)
DATABASE_DOWN = (OperationalError, InterfaceError, OSError, TimeoutError)

RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a numeric id")]

_STATUS: tuple[tuple[type[OperatorError], int], ...] = (
    (Unauthenticated, 401),
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
    (Unavailable, 503),
)


def to_problem(exc: OperatorError) -> Problem:
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    extra: dict[str, Any] = {}
    if exc.problems:
        extra["errors"] = [{"loc": path.split("."), "msg": msg} for path, msg in exc.problems]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Problem(status, exc.code, exc.message, headers=headers, extra=extra)


class OperatorRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except OperatorError as exc:
                raise to_problem(exc) from None
            except DATABASE_DOWN as exc:
                log.error("operator_api_database_unavailable", error=type(exc).__name__)
                raise Problem(
                    503,
                    "DATABASE_UNAVAILABLE",
                    "the database cannot be reached; retry later",
                    headers={"Retry-After": "10"},
                ) from None

        return run


def operator_router(tag: str) -> APIRouter:
    return APIRouter(route_class=OperatorRoute, tags=[tag])


_EXAMPLES: dict[int, tuple[str, str]] = {
    400: ("CURSOR_INVALID", "the cursor is not one this list gave out"),
    401: ("API_KEY_MISSING", "send an API key as 'Authorization: Bearer <key>'"),
    403: ("ROLE_INSUFFICIENT", "this action needs the operator role; the API key has the viewer role"),
    409: ("CONFLICT", "the resource's current state does not allow this action"),
    422: ("VALIDATION_FAILED", "the request does not match the schema"),
    503: ("DATABASE_UNAVAILABLE", "the database cannot be reached; retry later"),
}


def errors(
    *statuses: int, not_found: tuple[str, str] | None = None, conflict: tuple[str, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI error answers of an operator route: the key checks (401, 403) plus its own.

    ``not_found`` and ``conflict`` (code, detail) are this route's own 404 and 409 examples.
    """
    examples = dict(_EXAMPLES)
    examples[404] = not_found or ("NOT_FOUND", "no such resource")
    if conflict:
        examples[409] = conflict
    return problem_responses(401, 403, *statuses, 503, examples=examples)
