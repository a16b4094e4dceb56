"""Jobs that run on a period: as arq cron jobs on workers, or as loops inside `bridge serve` without Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.context import Resources
from app.domain.schedule import next_fire
from app.logging import get_logger
from app.models import utcnow
from app.repositories import workers

log = get_logger(__name__)


@dataclass(frozen=True)
class Periodic:
    job: str
    interval: Callable[[Settings], float]


# Cluster-wide jobs: one run per period across all workers (arq cron with unique job ids).
PERIODIC: list[Periodic] = [
    Periodic("sweep", lambda s: s.sweeper_interval_seconds),
    Periodic("transfer_run", lambda s: float(s.transfer_interval_seconds)),
    Periodic("prune", lambda s: 3600.0),  # retention: hourly, in bounded batches
]

HEARTBEAT_SECONDS = 15.0


async def heartbeat_loop(resources: Resources) -> None:
    """Per process: report this worker alive every HEARTBEAT_SECONDS (operators list live workers)."""
    while True:
        try:
            async with resources.sessionmaker() as session, session.begin():
                await workers.beat(session, resources.worker_id)
        except Exception:
            log.warning("heartbeat_failed")
        await asyncio.sleep(HEARTBEAT_SECONDS)


async def run_periodic_loop(periodic: Periodic, settings: Settings, enqueue: Callable[[str], Any]) -> None:
    """In-process mode: enqueue the job on the same marks as the workers' cron, until cancelled."""
    interval = periodic.interval(settings)
    while True:
        now = utcnow()
        await asyncio.sleep((next_fire(interval, now) - now).total_seconds())
        try:
            await enqueue(periodic.job)
        except Exception:
            log.exception("periodic_enqueue_failed", job=periodic.job)
