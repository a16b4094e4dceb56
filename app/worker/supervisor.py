"""Keeps `bridge worker` alive through outages: it never exits because Redis or PostgreSQL went away.

- Redis gone: arq's poll loop raises out of `Worker.main`. The supervisor lets the jobs in flight finish
  (their state is in PostgreSQL), waits with a backoff until Redis answers, and starts a fresh arq Worker.
- PostgreSQL gone: the worker stops taking jobs (they wait in Redis instead of failing one by one) and
  takes them again once the database answers.
- After every recovery a sweep is enqueued at once, so work stored meanwhile, or wake-ups lost with
  Redis (a restart, a FLUSHALL), is picked up without waiting for the next periodic sweep.
The state is visible on the worker's port (`/readyz`, `bridge_worker_dependency_up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable

from arq.worker import Worker

from app.config import Settings
from app.context import Resources
from app.logging import get_logger
from app.migrate import SchemaOutOfDate, ensure_schema_current
from app.worker.dependencies import Dependency, DependencyMonitor, backoff_delays
from app.worker.main import build_worker
from app.worker.periodic import heartbeat_loop
from app.worker.queue import ArqQueue, QueueUnavailable
from app.worker.status_server import StatusServer

log = get_logger(__name__)
RECOVERY_SWEEP_JOB_ID = "sweep:recovery"
STEADY_RUN_SECONDS = 30.0  # an arq Worker that ran this long resets the restart backoff


class Supervisor:
    def __init__(self, settings: Settings, *, burst: bool = False) -> None:
        self._settings, self._burst = settings, burst
        self._stopping = asyncio.Event()
        self._worker: Worker | None = None
        self._resources: Resources | None = None
        self._monitor: DependencyMonitor | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop, signum)
        assert self._settings.redis_url
        resources = await Resources.open(self._settings, ArqQueue(self._settings.redis_url))
        self._resources = resources
        monitor = DependencyMonitor(
            resources.engine, resources.queue, reconnect_cap=self._settings.worker_reconnect_cap_seconds
        )
        self._monitor = monitor
        monitor.on_change(self._dependency_changed)
        status = StatusServer(
            self._settings.worker_metrics_host, self._settings.worker_metrics_port, self._readiness
        )
        await status.start()
        background = [asyncio.create_task(monitor.run())]
        try:
            if await self._until_stopped(self._schema_checked(resources, monitor)):
                background.append(asyncio.create_task(heartbeat_loop(resources)))
                log.info("worker_started", worker_id=resources.worker_id)
                await self._serve(resources, monitor)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await status.close()
            await resources.close()
            log.info("worker_stopped", worker_id=resources.worker_id)

    async def _schema_checked(self, resources: Resources, monitor: DependencyMonitor) -> None:
        """Wait for the database, then refuse to run on an old schema (that needs a person: exit)."""
        while True:
            await monitor.wait_up(Dependency.DATABASE)
            try:
                await ensure_schema_current(resources.engine)
                return
            except SchemaOutOfDate:
                raise  # `run_worker` exits with its message
            except Exception as exc:  # the database went away between the probe and the check
                log.warning("worker_schema_check_failed", error=type(exc).__name__)
                await monitor.mark_down(Dependency.DATABASE)

    async def _serve(self, resources: Resources, monitor: DependencyMonitor) -> None:
        restart_delay = backoff_delays(self._settings.worker_reconnect_cap_seconds)
        while not self._stopping.is_set():
            if not await self._until_stopped(monitor.wait_up(Dependency.REDIS)):
                return
            worker = build_worker(self._settings, resources, burst=self._burst)
            worker.allow_pick_jobs = monitor.is_up(Dependency.DATABASE)
            self._worker = worker
            started = time.monotonic()
            worker.main_task = asyncio.ensure_future(worker.main())
            try:
                await worker.main_task
                return  # only a burst run ends by itself
            except asyncio.CancelledError:
                if not self._stopping.is_set():
                    raise
                return
            except Exception as exc:  # redis-py's errors and OSErrors: the queue is gone
                log.warning("worker_lost_queue", error=type(exc).__name__)
                await monitor.mark_down(Dependency.REDIS)
            finally:
                self._worker = None
                await self._retire(worker)
            if time.monotonic() - started > STEADY_RUN_SECONDS:
                restart_delay = backoff_delays(self._settings.worker_reconnect_cap_seconds)
            await self._until_stopped(asyncio.sleep(restart_delay()))

    async def _retire(self, worker: Worker) -> None:
        """Let the jobs in flight finish (bounded by a lease: after that they are another worker's
        anyway), then drop the arq Worker and its Redis connections."""
        running = [t for t in worker.tasks.values() if not t.done()]
        if running and not self._stopping.is_set():
            _, late = await asyncio.wait(running, timeout=self._settings.lease_seconds)
            for task in late:
                task.cancel()
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        pool = worker.ctx.get("redis")
        if pool is not None:
            with contextlib.suppress(Exception):  # Redis may be gone: the health key expires by itself
                await pool.delete(worker.health_check_key)
            with contextlib.suppress(Exception):
                await pool.close(close_connection_pool=True)

    async def _dependency_changed(self, dependency: Dependency, up: bool) -> None:
        if dependency is Dependency.DATABASE and self._worker is not None:
            self._worker.allow_pick_jobs = up and not self._stopping.is_set()
        if up and self._resources is not None:
            # Redis still away: its own recovery enqueues the sweep
            with contextlib.suppress(QueueUnavailable):
                await self._resources.queue.enqueue("sweep", job_id=RECOVERY_SWEEP_JOB_ID)

    def _readiness(self) -> dict[str, str]:
        checks = self._monitor.states() if self._monitor else {}
        checks["jobs"] = "ok" if self._worker is not None and self._worker.allow_pick_jobs else "waiting"
        return checks

    def _stop(self, signum: signal.Signals) -> None:
        log.info("worker_stopping", signal=signum.name)
        self._stopping.set()
        if self._worker is not None:
            self._worker.allow_pick_jobs = False
            self._worker.handle_sig(signum)  # cancels its jobs (arq's own SIGTERM behaviour) and its loop

    async def _until_stopped(self, waiting: Awaitable[None]) -> bool:
        """Await `waiting` unless a stop signal comes first; True when it completed."""
        task = asyncio.ensure_future(waiting)
        stop = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False
