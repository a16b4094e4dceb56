"""Real `bridge worker` (and simulator) processes for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TEST_CTMS_SECRET, TEST_SECRET_KEY

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def worker_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update(
        BRIDGE_DATABASE_URL=database_url,
        BRIDGE_REDIS_URL=redis_url,
        BRIDGE_SECRET_KEY=TEST_SECRET_KEY,
        BRIDGE_CTMS_WEBHOOK_SECRETS=TEST_CTMS_SECRET,
        BRIDGE_SWEEPER_INTERVAL_SECONDS="1",
        BRIDGE_SWEEPER_GRACE_SECONDS="0.5",
        BRIDGE_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


@contextmanager
def worker_process(env: dict[str, str], log_path: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    log = log_path.open("wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log_path and not isinstance(log, int):
            log.close()


async def wait_for_heartbeat(engine: AsyncEngine, pid: int, timeout: float = 30.0) -> None:
    """A worker reports in once it is connected to the database and Redis: then it takes jobs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            found = await conn.execute(text("SELECT 1 FROM worker_heartbeats WHERE pid = :pid"), {"pid": pid})
            if found.first():
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"worker {pid} did not report in within {timeout}s")


@asynccontextmanager
async def running_worker(
    engine: AsyncEngine, env: dict[str, str], log_path: Path | None = None
) -> AsyncIterator[subprocess.Popen[bytes]]:
    with worker_process(env, log_path) as proc:
        await wait_for_heartbeat(engine, proc.pid)
        yield proc


async def eventually(
    read: Callable[[], Awaitable[T]],
    until: Callable[[T], bool] = bool,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """Poll `read` until `until(value)` holds; fail with the last value read otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = await read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


class PrivateRedis:
    """A redis-server of our own on a free port, to stop and start at will (never the shared one)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is required for this test (it is installed with Redis)"
        self.binary, self.port = binary, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temp dir, a free port) that tests may stop fast or
    immediately: the shared server on 5432 serves other developers and is never touched."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        found = str(bins[-1]) if bins else shutil.which("pg_ctl")
        assert found, "PostgreSQL's server binaries (initdb, pg_ctl) are required for this test"
        self.bin = Path(found).parent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bridge-pg-"))
        self.data = self.dir / "data"
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/bridge"

    def _run(self, *args: str) -> None:
        # initdb refuses to run as root: run the server binaries as the postgres user then.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *args], capture_output=True, cwd=self.dir, check=False)
        assert done.returncode == 0, f"{Path(args[0]).name} failed: {done.stderr.decode(errors='replace')}"

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        self.start()
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "bridge"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def __enter__(self) -> PrivatePostgres:
        self.create()
        return self

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(AssertionError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
