"""The job queue facade: arq on Redis in production, in-process tasks for the embedded default.

The same job functions run either way: ``async def job(ctx, *args)``. Jobs are idempotent and keep their
state in the database, so arq is used only to wake a worker up; it is never the record of what is owed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from app.logging import get_logger

JobFunction = Callable[..., Awaitable[Any]]
log = get_logger(__name__)


class QueueUnavailable(Exception):
    """The queue could not take the job (Redis down); the stored work is picked up by the sweeper."""


class JobQueue(Protocol):
    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> bool:
        """Schedule a job; False when a job with that id is already waiting (coalesced)."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    settings.conn_retry_delay = 0
    return settings


class ArqQueue:
    """arq on Redis. Connects on first use, so a process can start (and store work) while Redis is down."""

    def __init__(self, url_or_pool: str | ArqRedis) -> None:
        self._url = url_or_pool if isinstance(url_or_pool, str) else None
        self._pool: ArqRedis | None = None if isinstance(url_or_pool, str) else url_or_pool
        self._owns_pool = isinstance(url_or_pool, str)
        self._connect_lock = asyncio.Lock()

    async def _connected(self) -> ArqRedis:
        if self._pool is None:
            async with self._connect_lock:  # concurrent first requests must share one pool
                if self._pool is None:
                    assert self._url is not None
                    try:
                        self._pool = await create_pool(redis_settings(self._url), retry=0)
                    except Exception as exc:
                        raise QueueUnavailable(str(exc) or type(exc).__name__) from exc
        return self._pool

    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> bool:
        pool = await self._connected()
        try:
            job = await pool.enqueue_job(function, *args, _job_id=job_id, _defer_by=defer_seconds or None)
        except Exception as exc:  # redis-py raises its own hierarchy and OSErrors: all mean "not queued"
            raise QueueUnavailable(str(exc) or type(exc).__name__) from exc
        return job is not None

    async def ping(self) -> None:
        pool = await self._connected()
        try:
            await asyncio.wait_for(pool.ping(), timeout=2)
        except Exception as exc:
            raise QueueUnavailable(str(exc) or type(exc).__name__) from exc

    async def close(self) -> None:
        if self._pool is not None and self._owns_pool:
            await self._pool.aclose()


class InProcessQueue:
    """Runs jobs as tasks of this process: no Redis needed. A job id coalesces while it waits."""

    def __init__(self, functions: dict[str, JobFunction]) -> None:
        self._functions = functions
        self.ctx: dict[str, Any] = {}
        self._waiting: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> bool:
        if function not in self._functions:
            raise KeyError(f"no job named {function!r}")
        if job_id is not None:
            if job_id in self._waiting:
                return False
            self._waiting.add(job_id)
        task = asyncio.get_running_loop().create_task(self._run(function, args, job_id, defer_seconds))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(self, function: str, args: tuple[Any, ...], job_id: str | None, defer: float) -> None:
        if defer:
            await asyncio.sleep(defer)
        if job_id is not None:
            self._waiting.discard(job_id)  # from here on a new enqueue schedules another run, as in arq
        try:
            await self._functions[function](self.ctx, *args)
        except Exception:
            log.exception("job_failed", job=function)

    async def drain(self, limit_seconds: float = 30.0) -> None:
        """Wait until no job is pending or running (tests, and a graceful shutdown)."""
        async with asyncio.timeout(limit_seconds):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
