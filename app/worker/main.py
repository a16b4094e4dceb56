"""The arq worker process (`bridge worker`): runs the jobs of app/worker/jobs and the periodic ones."""

from __future__ import annotations

import asyncio
from typing import Any

from arq import cron
from arq.worker import Worker, func

from app.config import Settings
from app.context import Resources
from app.logging import configure_logging, get_logger
from app.migrate import ensure_schema_current
from app.worker.jobs import JOBS
from app.worker.periodic import PERIODIC, cron_fields, heartbeat_loop
from app.worker.queue import ArqQueue, redis_settings

log = get_logger(__name__)


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    if not settings.redis_url:
        raise SystemExit("bridge worker needs BRIDGE_REDIS_URL; without it, jobs run inside `bridge serve`")

    async def on_startup(ctx: dict[str, Any]) -> None:
        resources = await Resources.open(settings, ArqQueue(ctx["redis"]))
        await ensure_schema_current(resources.engine)
        ctx["resources"] = resources
        ctx["heartbeat_task"] = asyncio.create_task(heartbeat_loop(resources))
        log.info("worker_started", worker_id=resources.worker_id)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        task = ctx.get("heartbeat_task")
        if isinstance(task, asyncio.Task):
            task.cancel()
        resources = ctx.get("resources")
        if isinstance(resources, Resources):
            await resources.engine.dispose()
            await resources.http.aclose()

    # arq types jobs with its own WorkerCoroutine protocol; ours are plain `async def job(ctx, ...)`.
    arq_jobs: dict[str, Any] = dict(JOBS)
    return Worker(
        functions=[func(fn, name=name) for name, fn in arq_jobs.items()],
        cron_jobs=[
            cron(
                arq_jobs[p.job],
                name=f"cron:{p.job}",
                unique=True,
                run_at_startup=False,
                **cron_fields(p.interval(settings)),
            )
            for p in PERIODIC
        ],
        redis_settings=redis_settings(settings.redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        max_jobs=settings.worker_max_jobs,
        job_timeout=max(300, int(settings.lease_seconds * 5)),
        keep_result=0,  # a kept result would block re-enqueueing the same job id
        poll_delay=0.05,
        burst=burst,
        handle_signals=True,
    )


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    configure_logging(settings.log_level, settings.log_json)
    settings.check()
    build_worker(settings, burst=burst).run()
