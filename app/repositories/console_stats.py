"""SQL for the console's overview: per connection, what is waiting, what died, and what got through.

One grouped scan of ``deliveries`` per question, portable between PostgreSQL and SQLite (the embedded
mode serves the console too). Throughput is counted in fixed buckets with one ``FILTER`` per bucket
rather than a dialect-specific epoch expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.models import Delivery, DeliveryStatus
from app.models.deliveries import OPEN_STATUSES

SUCCEEDED = (DeliveryStatus.DELIVERED, DeliveryStatus.UNCHANGED)


@dataclass(frozen=True)
class ConnectionStats:
    connection_id: str
    open: int
    dead: int
    oldest_open_at: datetime | None
    last_delivered_at: datetime | None


async def per_connection(session: AsyncSession) -> dict[str, ConnectionStats]:
    is_open = col(Delivery.status).in_(OPEN_STATUSES)
    stmt = (
        select(
            col(Delivery.connection_id),
            func.count().filter(is_open),
            func.count().filter(col(Delivery.status) == DeliveryStatus.DEAD),
            func.min(col(Delivery.created_at)).filter(is_open),
            func.max(col(Delivery.finished_at)).filter(col(Delivery.status) == DeliveryStatus.DELIVERED),
        )
        .where(col(Delivery.connection_id).is_not(None))
        .group_by(col(Delivery.connection_id))
    )
    found: dict[str, ConnectionStats] = {}
    for connection_id, open_, dead, oldest, last in await session.execute(stmt):
        key = str(connection_id)
        found[key] = ConnectionStats(key, int(open_), int(dead), oldest, last)
    return found


async def finished_per_bucket(
    session: AsyncSession, *, since: datetime, bucket: timedelta, buckets: int
) -> dict[str, list[int]]:
    """Deliveries that succeeded in each of ``buckets`` consecutive intervals from ``since``."""
    done = col(Delivery.status).in_(SUCCEEDED)
    finished = col(Delivery.finished_at)
    counts = [
        func.count().filter(and_(finished >= since + i * bucket, finished < since + (i + 1) * bucket))
        for i in range(buckets)
    ]
    stmt = (
        select(col(Delivery.connection_id), *counts)
        .where(done, finished >= since, col(Delivery.connection_id).is_not(None))
        .group_by(col(Delivery.connection_id))
    )
    found: dict[str, list[int]] = {}
    for row in await session.execute(stmt):
        found[str(row[0])] = [int(n) for n in row[1:]]
    return found
