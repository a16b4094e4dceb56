"""The console's overview of each connection: open and dead work, lag, and throughput per interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import utcnow
from app.repositories import console_stats

WINDOW = timedelta(hours=1)
BUCKETS = 12  # five-minute bars over the last hour


@dataclass(frozen=True)
class ConnectionHealth:
    connection_id: str
    open: int
    dead: int
    lag: timedelta | None  # age of the oldest delivery still waiting
    last_delivered_at: datetime | None
    per_bucket: list[int]  # deliveries that succeeded, oldest bucket first

    @property
    def last_hour(self) -> int:
        return sum(self.per_bucket)


@dataclass(frozen=True)
class Overview:
    since: datetime
    bucket: timedelta
    connections: dict[str, ConnectionHealth]


async def overview(session: AsyncSession, now: datetime | None = None) -> Overview:
    now = now or utcnow()
    bucket = WINDOW / BUCKETS
    since = now - WINDOW
    stats = await console_stats.per_connection(session)
    buckets = await console_stats.finished_per_bucket(session, since=since, bucket=bucket, buckets=BUCKETS)
    health: dict[str, ConnectionHealth] = {}
    for connection_id in stats.keys() | buckets.keys():
        s = stats.get(connection_id)
        health[connection_id] = ConnectionHealth(
            connection_id=connection_id,
            open=s.open if s else 0,
            dead=s.dead if s else 0,
            lag=(now - s.oldest_open_at) if s and s.oldest_open_at else None,
            last_delivered_at=s.last_delivered_at if s else None,
            per_bucket=buckets.get(connection_id, [0] * BUCKETS),
        )
    return Overview(since, bucket, health)
