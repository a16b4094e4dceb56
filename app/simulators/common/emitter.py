"""Sends signed Standard Webhooks events, as the real systems' outbound messages would be sent to the bridge."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from pydantic import BaseModel

from app.signing import signed_headers


class WebhookTarget(BaseModel):
    url: str
    secret: str


class EmittedEvent(BaseModel):
    msg_id: str
    url: str
    type: str
    status: int | None  # last HTTP status, None when the bridge could not be reached
    attempts: int


@dataclass
class WebhookEmitter:
    """Posts each event to the configured target; retries like a real sender (a few times, backing off).

    ``transport`` lets tests deliver in-process (httpx.ASGITransport to the bridge app).
    """

    target: WebhookTarget | None = None
    enabled: bool = True
    thin: bool = False  # CTMS only: send events without the record, so the bridge must read it
    transport: httpx.AsyncBaseTransport | None = None
    max_attempts: int = 4
    log: list[EmittedEvent] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def envelope(self, type_: str, data: dict[str, Any]) -> bytes:
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return orjson.dumps({"type": type_, "timestamp": stamp, "data": data})

    def emit(self, type_: str, data: dict[str, Any], *, path_suffix: str = "") -> None:
        """Schedule delivery in the background; the simulated system does not wait for the bridge."""
        if not self.enabled or self.target is None:
            return
        secret, msg_id = self.target.secret, f"msg_{uuid.uuid4().hex}"
        body = self.envelope(type_, data)

        def request(attempt: int) -> tuple[bytes, dict[str, str]]:
            return body, signed_headers(secret, msg_id, int(time.time()), body)

        self.post(self.target.url.rstrip("/") + path_suffix, type_, msg_id, request)

    def post(
        self, url: str, type_: str, msg_id: str, request: Callable[[int], tuple[bytes, dict[str, str]]]
    ) -> None:
        """Send in the background what ``request(attempt)`` builds (body and headers, signed afresh for each
        attempt); other outbound formats (Vault's Spark messages) use this for the same retries and log."""
        if not self.enabled:
            return
        task = asyncio.get_running_loop().create_task(self._send(url, type_, msg_id, request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every scheduled event has been sent (or given up)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send(
        self, url: str, type_: str, msg_id: str, request: Callable[[int], tuple[bytes, dict[str, str]]]
    ) -> None:
        status: int | None = None
        attempts = 0
        async with httpx.AsyncClient(transport=self.transport, timeout=10.0) as client:
            for attempts in range(1, self.max_attempts + 1):
                body, headers = request(attempts)
                try:
                    response = await client.post(url, content=body, headers=headers)
                    status = response.status_code
                    if status < 500 and status != 429:
                        break
                except httpx.HTTPError:
                    status = None
                await asyncio.sleep(min(0.2 * 2**attempts, 5.0))
        self.log.append(EmittedEvent(msg_id=msg_id, url=url, type=type_, status=status, attempts=attempts))
