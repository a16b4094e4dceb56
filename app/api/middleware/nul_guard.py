"""U+0000 anywhere in a request (path, query string, JSON body) is a 422, before any route runs.

PostgreSQL cannot store NUL in text or JSONB: let through, it fails deep inside a query as a 500. One
guard for every route (present and future) instead of a check per parameter. The webhook endpoints
answer for their own input and are left alone.
"""

from __future__ import annotations

import re

from app.api.middleware.asgi import ASGIApp, Message, Receive, Scope, Send, send_problem

CODE = "NUL_CHARACTER_NOT_ALLOWED"
SKIPPED_PREFIXES = ("/webhooks/",)
# A JSON string escape \u0000: the backslash must start an escape (an even run of backslashes before it).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media: bytes = value.split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class NulGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SKIPPED_PREFIXES):
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            await send_problem(send, 422, CODE, "the path or query string contains a NUL character (%00)")
            return
        if not _is_json(scope):
            await self.app(scope, receive, send)
            return
        # Operator bodies are small and parsed whole anyway: read them first, then replay to the route.
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if _JSON_NUL.search(body):
            await send_problem(send, 422, CODE, "the JSON body contains a NUL character (\\u0000)")
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
