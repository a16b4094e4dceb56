"""Run an ASGI app as a real HTTP(S) server on a local port, in a background thread.

Used by ``bridge simulators``, the contract tests and the benchmarks: a simulator behind a real socket is
what the bridge (and third-party clients such as simple-salesforce) talk to in production-like runs.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


class ServerThread:
    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        log_level: str = "warning",
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            log_level=log_level,
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=2,  # a call a fault left hanging must not hold a stop for long
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"server-{host}:{port}", daemon=True)
        self._scheme = "https" if ssl_certfile else "http"
        self._host = host
        self.port = port

    @property
    def url(self) -> str:
        host = "localhost" if self._scheme == "https" else self._host  # certificates name localhost
        return f"{self._scheme}://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self._host}:{self.port} did not start")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
