"""Issue 13 point 5: a client that sends headers and then dribbles (or never sends) its body is answered
408 and let go after BRIDGE_BODY_READ_TIMEOUT_SECONDS, on a real server over a raw socket."""

from __future__ import annotations

import json
import socket
import time

import pytest

from app.main import create_app
from app.simulators.common.server import ServerThread
from tests.conftest import make_settings

TIMEOUT = 1.0


def _read_all(sock: socket.socket, limit: float) -> bytes:
    """Everything the server sends until it closes the connection (or `limit` seconds pass)."""
    sock.settimeout(limit)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("dribble", [False, True], ids=["stalled", "dribbling"])
@pytest.mark.parametrize("path", ["/api/v1/connections", "/webhooks/ctms"])
def test_a_slow_body_is_cut_off_with_a_408(pg_url: str, path: str, dribble: bool) -> None:
    settings = make_settings(pg_url, body_read_timeout_seconds=TIMEOUT)
    with (
        ServerThread(create_app(settings)) as server,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
    ):
        started = time.monotonic()
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{".encode()
        )
        if dribble:  # a byte every 0.2 s: each read is quick, the body never ends in time
            sock.settimeout(0.05)
            for _ in range(15):
                try:
                    sock.sendall(b" ")
                except OSError:
                    break
                time.sleep(0.2)
        answer = _read_all(sock, 10)
        elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"application/problem+json" in head
    assert json.loads(body)["code"] == "BODY_READ_TIMEOUT"
    assert elapsed < TIMEOUT + 3  # released, not held for the client's pleasure


def test_a_body_in_time_is_unaffected(pg_url: str) -> None:
    settings = make_settings(pg_url, body_read_timeout_seconds=TIMEOUT)
    with (
        ServerThread(create_app(settings)) as server,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
    ):
        sock.sendall(
            b"POST /api/v1/connections HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        answer = _read_all(sock, 10)
    assert answer.startswith(b"HTTP/1.1 401"), answer  # reached the route's key check
