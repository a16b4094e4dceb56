"""HTTP plumbing shared by the API routes: dependencies, JSON bodies and the platform's error responses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.simulators.salesforce.errors import (
    NOT_FOUND_MESSAGE,
    ApiError,
    RecordError,
    json_parser_error,
    not_found,
)
from app.simulators.salesforce.state import SalesforceState

API_PREFIX = "/services/data"
OLDEST_VERSION = 31
LATEST_VERSION = 64
JSON_TYPE = "application/json;charset=UTF-8"
_VERSION = re.compile(r"v(\d+)\.0")
_SEASONS = ("Winter", "Spring", "Summer")


def get_state(request: Request) -> SalesforceState:
    state: SalesforceState = request.app.state.salesforce
    return state


StateDep = Annotated[SalesforceState, Depends(get_state)]


@dataclass(frozen=True)
class ApiVersion:
    text: str  # as in the URL: v62.0
    number: int


def api_version(version: str) -> ApiVersion:
    match = _VERSION.fullmatch(version)
    if match is None or not OLDEST_VERSION <= int(match.group(1)) <= LATEST_VERSION:
        raise not_found()
    return ApiVersion(version, int(match.group(1)))


VersionDep = Annotated[ApiVersion, Depends(api_version)]


def release_label(number: int) -> str:
    """Three releases a year since Winter '11 (v20.0)."""
    steps = number - 20
    return f"{_SEASONS[steps % 3]} '{11 + steps // 3:02d}"


def versions() -> list[dict[str, str]]:
    return [
        {"label": release_label(n), "url": f"{API_PREFIX}/v{n}.0", "version": f"{n}.0"}
        for n in range(OLDEST_VERSION, LATEST_VERSION + 1)
    ]


def run_as(request: Request) -> str:
    """The user behind the request's session (set by the gateway)."""
    user_id: str = request.state.user_id
    return user_id


def sf_json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type=JSON_TYPE)


def error_response(
    status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> Response:
    return sf_json(errors, status, headers)


async def read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise json_parser_error(
            f"Unexpected character in request body at [line:1, column:{exc.pos + 1}]"
        ) from None


async def read_object(request: Request, object_name: str) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        kind = "START_ARRAY" if isinstance(body, list) else "VALUE_STRING"
        raise json_parser_error(f"Cannot deserialize instance of {object_name} from {kind} value")
    return body


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.body())

    @app.exception_handler(RecordError)
    async def record_error(_: Request, exc: RecordError) -> Response:
        return error_response(400, [e.as_api() for e in exc.errors])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_api(request):
            return await http_exception_handler(request, exc)
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}"
            return error_response(
                405, [{"message": message, "errorCode": "METHOD_NOT_ALLOWED", "fields": []}]
            )
        return error_response(404, [{"message": NOT_FOUND_MESSAGE, "errorCode": "NOT_FOUND", "fields": []}])

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if not _is_api(request):
            return await request_validation_exception_handler(request, exc)
        message = str(exc.errors()[0]["msg"])
        return error_response(400, [{"message": message, "errorCode": "MALFORMED_QUERY", "fields": []}])
