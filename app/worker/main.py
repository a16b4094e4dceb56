"""The arq worker process (`bridge worker`): runs the jobs of app/worker/jobs and the periodic ones.

`run_worker` hands the process to the supervisor (app/worker/supervisor.py), which keeps it alive through
Redis and PostgreSQL outages; `build_worker` makes one arq Worker, a fresh one after each lost Redis.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any

from arq import cron
from arq.worker import Worker, func

from app.config import Settings
from app.context import Resources
from app.domain.schedule import cron_fields
from app.logging import configure_logging
from app.worker.jobs import JOBS
from app.worker.periodic import PERIODIC
from app.worker.queue import redis_settings

# Jobs that read a whole system: their own time limit, far beyond the default (they beat a heartbeat)
LONG_JOBS = {"initial_load": 24 * 3600, "reconcile": 24 * 3600}


def build_worker(settings: Settings, resources: Resources, *, burst: bool = False) -> Worker:
    """An arq Worker over the process's resources. Signals are the supervisor's, not arq's: arq would
    only stop its own poll loop, and the supervisor must also stop waiting for a dependency."""
    assert settings.redis_url
    # arq types jobs with its own WorkerCoroutine protocol; ours are plain `async def job(ctx, ...)`.
    arq_jobs: dict[str, Any] = dict(JOBS)
    return Worker(
        functions=[func(fn, name=name, timeout=LONG_JOBS.get(name)) for name, fn in arq_jobs.items()],
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
        ctx={"resources": resources},
        max_jobs=settings.worker_max_jobs,
        job_timeout=max(300, int(settings.lease_seconds * 5)),
        keep_result=0,  # a kept result would block re-enqueueing the same job id
        poll_delay=0.05,
        burst=burst,
        handle_signals=False,
    )


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """uvloop when installed (it is on Linux): the worker's time is mostly socket I/O, which it does in C."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        asyncio.run(main)
    else:
        uvloop.run(main)


def tune_gc() -> None:
    """A drain makes and drops many short-lived objects (rows, dicts, records): collect the young ones
    less often, and leave everything made at start-up (modules, settings, pools) out of full collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    from app.migrate import SchemaOutOfDate
    from app.worker.supervisor import Supervisor

    configure_logging(settings.log_level, settings.log_json)
    settings.check()
    if not settings.redis_url:
        raise SystemExit("bridge worker needs BRIDGE_REDIS_URL; without it, jobs run inside `bridge serve`")
    tune_gc()
    try:
        run_loop(Supervisor(settings, burst=burst).run())
    except SchemaOutOfDate as exc:
        raise SystemExit(str(exc)) from None
