"""A client that sends headers and then dribbles (or never sends) its body is cut off.

Without this a connection is held as long as the client likes (slow loris). The deadline covers the
whole body from the first read; once the body is in, later reads (waiting for a disconnect) are free.
The route sees an exception from ``receive``; whatever it makes of it, the client gets a 408 and the
connection is closed.
"""

from __future__ import annotations

import asyncio

from app.api.middleware.asgi import ASGIApp, Message, Receive, Scope, Send, send_problem

CODE = "BODY_READ_TIMEOUT"


class BodyReadTimeout(Exception):
    """Raised from ``receive`` when the body did not arrive in time."""


class BodyReadTimeoutMiddleware:
    def __init__(self, app: ASGIApp, timeout_seconds: float) -> None:
        self.app = app
        self.timeout = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        body_done = False
        timed_out = False
        started = False

        async def guarded_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                raise BodyReadTimeout from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out and not started:
                return  # the route's answer to the exception; the client gets our 408 instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except BodyReadTimeout:
            if started:
                raise
        except Exception:
            if not timed_out or started:
                raise
        if timed_out and not started:
            await send_problem(
                send, 408, CODE, f"the request body did not arrive within {self.timeout:g} s", close=True
            )
