"""The few ASGI types and the problem+json answer the middleware send themselves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from app.api.problems import PROBLEM_BASE, PROBLEM_JSON, TITLES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_problem(send: Send, status: int, code: str, detail: str, *, close: bool = False) -> None:
    body = orjson.dumps(
        {
            "type": PROBLEM_BASE + code.lower().replace("_", "-"),
            "title": TITLES.get(status, "Error"),
            "status": status,
            "code": code,
            "detail": detail,
        }
    )
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
