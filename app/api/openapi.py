"""The OpenAPI document describes errors as they are sent: ``application/problem+json``, one Problem
schema, and the statuses the shared machinery answers on every operation it guards."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.problems import PROBLEM_JSON, TITLES, ProblemDetail

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# What the edge answers before or around any route: (status, code) by kind of operation.
_BODY_ERRORS = ((400, "BODY_NOT_PARSABLE"), (408, "BODY_READ_TIMEOUT"), (422, "VALIDATION_FAILED"))
_OPERATOR_ERRORS = ((422, "NUL_CHARACTER_NOT_ALLOWED"),)


def _problem_content(status: int, code: str) -> dict[str, Any]:
    example = {
        "type": "https://ctms-crm-bridge.dev/problems/" + code.lower().replace("_", "-"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": "…",
    }
    return {PROBLEM_JSON: {"schema": PROBLEM_REF, "example": example}}


def _fix_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for key, response in responses.items():
        if key.isdigit() and int(key) >= 400:
            content = response.get("content", {})
            media = content.pop("application/json", None) or content.get(PROBLEM_JSON) or {}
            example = media.get("example")
            response["content"] = {
                PROBLEM_JSON: {"schema": PROBLEM_REF, **({"example": example} if example else {})}
            }
    extra = list(_BODY_ERRORS if "requestBody" in operation else ())
    if path.startswith("/api/"):
        extra += list(_OPERATOR_ERRORS)
    for status, code in extra:
        responses.setdefault(
            str(status),
            {"description": TITLES.get(status, "Error"), "content": _problem_content(status, code)},
        )
        content = responses[str(status)]["content"][PROBLEM_JSON]
        content.setdefault("example", _problem_content(status, code)[PROBLEM_JSON]["example"])


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            for path, item in spec.get("paths", {}).items():
                for operation in item.values():
                    _fix_operation(path, operation)
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = ProblemDetail.model_json_schema(ref_template="#/components/schemas/{model}")
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise it
