"""Jobs that run on a period: as arq cron jobs on workers, or as loops inside `bridge serve` without Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.context import Resources
from app.logging import get_logger
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


def cron_fields(interval: float) -> dict[str, Any]:
    """arq cron takes sets of seconds/minutes/hours: the nearest schedule that fires every `interval`
    seconds (rounded up to a step that divides the minute, the hour or the day; at most once a day)."""

    def step(wanted: int, cycle: int) -> int:
        return next(d for d in range(max(1, wanted), cycle + 1) if cycle % d == 0)

    seconds = max(1, round(interval))
    if seconds < 60:
        return {"second": set(range(0, 60, step(seconds, 60)))}
    if seconds < 3600:
        return {"minute": set(range(0, 60, step(round(seconds / 60), 60))), "second": {0}}
    hours = min(24, round(seconds / 3600))
    return {"hour": set(range(0, 24, step(hours, 24))), "minute": {0}, "second": {0}}


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
    """In-process mode: enqueue the job every interval until cancelled."""
    interval = periodic.interval(settings)
    while True:
        await asyncio.sleep(interval)
        try:
            await enqueue(periodic.job)
        except Exception:
            log.exception("periodic_enqueue_failed", job=periodic.job)
