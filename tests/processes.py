"""Real `bridge worker` (and simulator) processes for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
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
