"""Vault's response envelope, its error types, and request helpers shared by the routes.

Vault answers failures with HTTP 200 and ``responseStatus: FAILURE``; clients must branch on the body.
"""

from __future__ import annotations

import email.parser
import email.policy
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

# Error types as the Vault API reference names them.
INVALID_SESSION_ID = "INVALID_SESSION_ID"
USERNAME_OR_PASSWORD_INCORRECT = "USERNAME_OR_PASSWORD_INCORRECT"  # noqa: S105 - an error type, not a secret
NO_PASSWORD_PROVIDED = "NO_PASSWORD_PROVIDED"  # noqa: S105 - an error type, not a secret
PARAMETER_REQUIRED = "PARAMETER_REQUIRED"
INVALID_DATA = "INVALID_DATA"
ATTRIBUTE_NOT_SUPPORTED = "ATTRIBUTE_NOT_SUPPORTED"
OPERATION_NOT_ALLOWED = "OPERATION_NOT_ALLOWED"
MALFORMED_URL = "MALFORMED_URL"
METHOD_NOT_SUPPORTED = "METHOD_NOT_SUPPORTED"
INCORRECT_QUERY_SYNTAX_ERROR = "INCORRECT_QUERY_SYNTAX_ERROR"
API_LIMIT_EXCEEDED = "API_LIMIT_EXCEEDED"
UNEXPECTED_ERROR = "UNEXPECTED_ERROR"
NO_DATA_CHANGES = "NO_DATA_CHANGES"


class VaultError(Exception):
    """A request-level failure, rendered as ``{"responseStatus": "FAILURE", "errors": [...]}``."""

    def __init__(self, type_: str, message: str, *, http_status: int = 200) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message
        self.http_status = http_status


def vault_json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type="application/json")


def failure_body(type_: str, message: str, *, status: str = "FAILURE") -> dict[str, Any]:
    return {"responseStatus": status, "errors": [{"type": type_, "message": message}]}


def failure(type_: str, message: str, *, http_status: int = 200) -> Response:
    return vault_json(failure_body(type_, message), http_status)


def error(type_: str, message: str) -> dict[str, str]:
    return {"type": type_, "message": message}


def iso_millis(moment: datetime) -> str:
    """Vault record timestamps: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(moment: datetime) -> str:
    """Deletion dates are rendered to the second (``2022-06-22T15:24:27Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """Parse ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` or with an offset; a bare date is midnight UTC."""
    value = text.strip()
    if len(value) == 10:
        parsed = datetime.strptime(value, "%Y-%m-%d")
    else:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


async def read_form(request: Request) -> dict[str, str]:
    """Form fields from an urlencoded or multipart body (Vault accepts both for /auth and /query).

    Parsed by hand so the simulator does not need python-multipart.
    """
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        fields: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload.decode()
        return fields
    parsed = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}
