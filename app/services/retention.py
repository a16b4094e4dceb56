"""Retention: old finished work is pruned in bounded batches, so tables stay bounded.

An edge like the Transfer job: each batch is its own short transaction (never one huge delete).
Order matters: attempts, then their deliveries, then the events no delivery refers to any more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import utcnow
from app.repositories import retention

BATCH_ROWS = 5000


async def prune(
    sessionmaker: async_sessionmaker[AsyncSession],
    older_than: timedelta,
    *,
    batch_rows: int = BATCH_ROWS,
    now: datetime | None = None,
) -> dict[str, int]:
    cutoff = (now or utcnow()) - older_than
    counts: dict[str, int] = {}
    for name, step in (
        ("attempts", retention.delete_attempts),
        ("deliveries", retention.delete_deliveries),
        ("events", retention.delete_events),
    ):
        counts[name] = 0
        while True:
            async with sessionmaker() as session, session.begin():
                deleted = await step(session, cutoff, batch_rows)
            counts[name] += deleted
            if deleted < batch_rows:
                break
    return counts
