"""What a worker depends on (PostgreSQL, Redis), watched from inside the worker process.

The worker never exits because one of them is gone: it waits, probing with a backoff, and says so in
`bridge_worker_dependency_up` and on its `/readyz`. Whoever needs to act on a change (stop taking jobs,
reconnect, sweep) subscribes with `on_change` or waits with `wait_up`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import metrics
from app.logging import get_logger
from app.worker.queue import JobQueue

log = get_logger(__name__)

PROBE_TIMEOUT_SECONDS = 3.0
HEALTHY_PROBE_SECONDS = 2.0  # how often a dependency that answers is probed again
FIRST_RETRY_SECONDS = 0.25  # after a failure; doubles up to the reconnect cap


class Dependency(StrEnum):
    DATABASE = "database"
    REDIS = "redis"


Listener = Callable[[Dependency, bool], Awaitable[None]]


def backoff_delays(cap: float, first: float = FIRST_RETRY_SECONDS) -> Callable[[], float]:
    """Successive waits: doubling from `first` up to `cap`, each with ±20% jitter so that many workers
    coming back do not knock on the same second."""
    current = first / 2

    def next_delay() -> float:
        nonlocal current
        current = min(cap, current * 2)
        return current * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not cryptography

    return next_delay


class DependencyMonitor:
    def __init__(self, engine: AsyncEngine, queue: JobQueue, *, reconnect_cap: float) -> None:
        self._probes: dict[Dependency, Callable[[], Awaitable[None]]] = {
            Dependency.DATABASE: lambda: _probe_database(engine),
            Dependency.REDIS: queue.ping,
        }
        self._cap = reconnect_cap
        self._up: dict[Dependency, asyncio.Event] = {d: asyncio.Event() for d in Dependency}
        self._known: dict[Dependency, bool | None] = dict.fromkeys(Dependency)
        self._listeners: list[Listener] = []
        self._changed: dict[Dependency, asyncio.Event] = {d: asyncio.Event() for d in Dependency}
        for dependency in Dependency:
            metrics.WORKER_DEPENDENCY_UP.labels(str(dependency)).set(0)

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def is_up(self, dependency: Dependency) -> bool:
        return self._up[dependency].is_set()

    def states(self) -> dict[str, str]:
        return {str(d): ("ok" if self.is_up(d) else "waiting") for d in Dependency}

    async def wait_up(self, dependency: Dependency) -> None:
        await self._up[dependency].wait()

    async def mark_down(self, dependency: Dependency) -> None:
        """Someone saw it fail (arq's poll loop): believe it now, and probe again soon."""
        await self._record(dependency, False)
        self._changed[dependency].set()

    async def run(self) -> None:
        """Probe every dependency until cancelled; each in its own loop so a hung one delays no other."""
        async with asyncio.TaskGroup() as group:
            for dependency in Dependency:
                group.create_task(self._watch(dependency))

    async def _watch(self, dependency: Dependency) -> None:
        delays = backoff_delays(self._cap)
        while True:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                    await self._probes[dependency]()
                up = True
            except Exception:  # any failure to answer means "not reachable now"
                up = False
            await self._record(dependency, up)
            if up:
                delays = backoff_delays(self._cap)
            wait = HEALTHY_PROBE_SECONDS if up else delays()
            changed = self._changed[dependency]
            changed.clear()
            try:  # a mark_down cuts the wait short
                async with asyncio.timeout(wait):
                    await changed.wait()
            except TimeoutError:
                pass

    async def _record(self, dependency: Dependency, up: bool) -> None:
        before = self._known[dependency]
        if before == up:
            return
        self._known[dependency] = up
        metrics.WORKER_DEPENDENCY_UP.labels(str(dependency)).set(1 if up else 0)
        if up:
            self._up[dependency].set()
            if before is False:
                metrics.WORKER_RECONNECTS.labels(str(dependency)).inc()
            log.info("worker_dependency_up", dependency=str(dependency))
        else:
            self._up[dependency].clear()
            log.warning("worker_dependency_waiting", dependency=str(dependency))
        for listener in self._listeners:
            try:
                await listener(dependency, up)
            except Exception:
                log.exception("worker_dependency_listener_failed", dependency=str(dependency))


async def _probe_database(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
