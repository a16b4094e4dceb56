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

# The example shown for each documented error: the code that operation really answers with that status.
_WEBHOOK_CODES = {
    400: "BODY_NOT_PARSABLE",
    401: "SIGNATURE_INVALID",
    404: "CONNECTION_NOT_FOUND",
    408: "BODY_READ_TIMEOUT",
    413: "BODY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "ENVELOPE_INVALID",
    503: "STORE_UNAVAILABLE",
}
_OPERATOR_CODES = {
    401: "API_KEY_MISSING",
    403: "ROLE_INSUFFICIENT",
    408: "BODY_READ_TIMEOUT",
    422: "VALIDATION_FAILED",
    503: "DATABASE_UNAVAILABLE",
}
_NOT_FOUND = {
    "connections": "CONNECTION_NOT_FOUND",
    "events": "EVENT_NOT_FOUND",
    "deliveries": "DELIVERY_NOT_FOUND",
    "transfer-runs": "TRANSFER_RUN_NOT_FOUND",
    "initial-loads": "INITIAL_LOAD_NOT_FOUND",
    "reconciliations": "RECONCILIATION_NOT_FOUND",
    "resync": "CONNECTION_NOT_FOUND",
    "api-keys": "API_KEY_NOT_FOUND",
}
_CONFLICTS = (  # (path ending, method) -> code; the first that fits
    ("/webhook-secrets", "post", "TOO_MANY_WEBHOOK_SECRETS"),
    ("/replay", "post", "DELIVERY_NOT_REPLAYABLE"),
    ("/discard", "post", "DELIVERY_NOT_DISCARDABLE"),
    ("/{connection_id}", "delete", "CONNECTION_ACTIVE"),
    ("/initial-loads", "post", "INITIAL_LOAD_IN_PROGRESS"),
    ("/reconciliations", "post", "RECONCILIATION_IN_PROGRESS"),
    ("/repair", "post", "RECONCILIATION_NOT_FINISHED"),
    ("/resync", "post", "CONNECTION_INACTIVE"),
    ("/resume", "post", "INITIAL_LOAD_NOT_RESUMABLE"),
    ("", "", "CONNECTION_NAME_TAKEN"),
)


def _code(path: str, method: str, status: int) -> str:
    if path.startswith("/webhooks/"):
        return _WEBHOOK_CODES.get(status, "HTTP_" + str(status))
    if path.startswith("/api/"):
        if status == 400:
            return "BODY_NOT_PARSABLE" if method in ("post", "put", "patch") else "CURSOR_INVALID"
        if status == 404:
            return _NOT_FOUND.get(path.split("/")[3], "NOT_FOUND")
        if status == 409:
            return next(code for end, verb, code in _CONFLICTS if path.endswith(end) and verb in ("", method))
        return _OPERATOR_CODES.get(status, "HTTP_" + str(status))
    return {503: "NOT_READY"}.get(status, dict(_BODY_ERRORS).get(status, "HTTP_" + str(status)))


def _problem_content(status: int, code: str) -> dict[str, Any]:
    example = {
        "type": "https://ctms-crm-bridge.dev/problems/" + code.lower().replace("_", "-"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": "…",
    }
    return {PROBLEM_JSON: {"schema": PROBLEM_REF, "example": example}}


def _fix_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = {int(key) for key in responses if key.isdigit() and int(key) >= 400}
    statuses |= {status for status, _ in _BODY_ERRORS} if "requestBody" in operation else set()
    statuses |= {status for status, _ in _OPERATOR_ERRORS} if path.startswith("/api/") else set()
    for status in sorted(statuses):
        response = responses.setdefault(str(status), {"description": TITLES.get(status, "Error")})
        # an operation's own error format (the SOAP faults of Outbound Messages) stays beside the Problem,
        # which the shared machinery may still answer (a body that times out, U+0000 in the path)
        own = {
            k: v
            for k, v in response.get("content", {}).items()
            if k not in ("application/json", PROBLEM_JSON)
        }
        response["content"] = {**_problem_content(status, _code(path, method, status)), **own}


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
                for method, operation in item.items():
                    _fix_operation(path, method, operation)
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = ProblemDetail.model_json_schema(ref_template="#/components/schemas/{model}")
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise it
