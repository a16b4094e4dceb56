"""A worker's own small HTTP port: `/metrics` (Prometheus), `/healthz` and `/readyz`.

Delivery counters and the open-deliveries gauge are counted in worker processes, so each worker serves
its own registry (Prometheus scrapes every worker). Plain asyncio, GET only, one answer per connection:
this port carries no user data and needs no framework.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.logging import get_logger

log = get_logger(__name__)
READ_TIMEOUT_SECONDS = 5.0
MAX_HEADER_LINES = 100
# The same problem+json shape as the API's answers (app/api/problems.py), without loading FastAPI here.
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://ctms-crm-bridge.dev/problems/"

ReadinessCheck = Callable[[], dict[str, str]]


class StatusServer:
    def __init__(self, host: str, port: int, readiness: ReadinessCheck) -> None:
        self._host, self._port, self._readiness = host, port, readiness
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen; a port already taken is logged and skipped: metrics are never a reason to stop work."""
        if self._port == 0:
            return
        try:
            self._server = await asyncio.start_server(self._handle, self._host, self._port)
        except OSError as exc:
            log.warning("worker_metrics_port_unavailable", port=self._port, error=type(exc).__name__)
            return
        log.info("worker_metrics_listening", host=self._host, port=self._port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                request_line = await reader.readline()
                for _ in range(MAX_HEADER_LINES):
                    if (await reader.readline()) in (b"\r\n", b"\n", b""):
                        break
            parts = request_line.decode("latin-1").split()
            method, path = (parts[0], parts[1].split("?", 1)[0]) if len(parts) >= 2 else ("", "")
            status, content_type, body = self._answer(method, path)
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, OSError):
            pass  # a client that stalls or goes away gets nothing more
        finally:
            writer.close()

    def _answer(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return _problem(405, "METHOD_NOT_ALLOWED", "this port answers GET only")
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest()
        if path == "/healthz":
            return 200, "application/json", orjson.dumps({"status": "ok"})
        if path == "/readyz":
            checks = self._readiness()
            waiting = [name for name, state in checks.items() if state != "ok"]
            if waiting:
                return _problem(503, "NOT_READY", f"waiting for: {', '.join(waiting)}", checks=checks)
            return 200, "application/json", orjson.dumps({"status": "ready", "checks": checks})
        return _problem(404, "NOT_FOUND", "this port serves /metrics, /healthz and /readyz")


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def _problem(status: int, code: str, detail: str, **extra: object) -> tuple[int, str, bytes]:
    body = {
        "type": PROBLEM_BASE + code.lower().replace("_", "-"),
        "title": _REASONS[status],
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return status, PROBLEM_JSON, orjson.dumps(body)
