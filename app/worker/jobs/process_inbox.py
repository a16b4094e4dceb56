"""Job: plan stored events into deliveries, then wake the lanes that got work."""

from __future__ import annotations

from typing import Any

from app import metrics
from app.context import resources_from
from app.services import planning, wakeups
from app.services.single_planner import planning_turn


async def process_inbox(ctx: dict[str, Any]) -> int:
    resources = resources_from(ctx)
    planned = 0
    while True:
        async with planning_turn(resources.engine), resources.sessionmaker() as session, session.begin():
            result = await planning.plan_pending(
                session, partitions=resources.settings.connection_concurrency
            )
        planned += result.events
        metrics.EVENTS_PROCESSED.labels("planned").inc(result.events)
        if result.lanes:
            await wakeups.wake_lanes(resources.queue, result.lanes)
        if result.events == 0:
            return planned
