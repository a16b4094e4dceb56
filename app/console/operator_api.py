"""The operator API, called in-process with the signed-in operator's key.

Every read and write the console makes through this goes through the same routes as any API client:
the role matrix, validation, the audit log and the problem codes apply unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp

INTERNAL_BASE = "http://console.internal"


@dataclass
class ApiRefused(Exception):
    """A problem+json answer, kept whole so a page can show the code, message and field errors."""

    status: int
    code: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.detail}"

    def field_errors(self) -> list[str]:
        return [
            ".".join(str(p) for p in e.get("loc", []) if p != "body") + ": " + str(e.get("msg", ""))
            for e in self.errors
        ]


class OperatorApi:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self._app = app
        self._headers = {"Authorization": f"Bearer {api_key}"}

    async def call(
        self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v not in (None, "", [])}
        transport = httpx.ASGITransport(app=self._app)
        async with httpx.AsyncClient(transport=transport, base_url=INTERNAL_BASE) as client:
            response = await client.request(method, path, json=body, params=query, headers=self._headers)
        if response.status_code >= 400:
            raise _refusal(response)
        return response.json() if response.content else None

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.call("POST", path, body=body)


def _refusal(response: httpx.Response) -> ApiRefused:
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return ApiRefused(response.status_code, f"HTTP_{response.status_code}", response.reason_phrase)
    errors = doc.get("errors")
    return ApiRefused(
        response.status_code,
        str(doc.get("code", f"HTTP_{response.status_code}")),
        str(doc.get("detail", "")),
        errors if isinstance(errors, list) else [],
    )
