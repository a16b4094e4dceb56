"""Job (periodic): wake whatever stored work no wake-up reached (Redis was down, a worker died)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app import metrics
from app.context import resources_from
from app.models import OPEN_STATUSES, utcnow
from app.repositories import inbox, initial_loads, sweeps
from app.services import wakeups
from app.services.transfer import initial_load


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    resources = resources_from(ctx)
    now = utcnow()
    grace = timedelta(seconds=resources.settings.sweeper_grace_seconds)
    async with resources.sessionmaker() as session:
        waiting_events = await inbox.count_received_before(session, now - grace)
        lanes = await sweeps.lanes_with_due_work(session, now)
        open_counts = await sweeps.open_counts(session)
        silent_loads = await initial_loads.needing_a_worker(
            session, now - initial_load.silence_limit(resources.settings)
        )
    for status in OPEN_STATUSES:
        metrics.OPEN_DELIVERIES.labels(str(status)).set(open_counts.get(str(status), 0))
    if waiting_events:
        metrics.SWEEPER_REQUEUED.inc(waiting_events)
        await wakeups.wake_planner(resources.queue)
    if lanes:
        await wakeups.wake_lanes(resources.queue, lanes)
    for load in silent_loads:  # its worker died or its job was lost: another worker takes it over
        await resources.queue.enqueue(initial_load.JOB, load.id, job_id=initial_load.job_id(load))
    return {"events": waiting_events, "lanes": len(lanes), "initial_loads": len(silent_loads)}
