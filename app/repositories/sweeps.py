"""SQL the sweeper uses to find work that no wake-up reached."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import OPEN_STATUSES, Delivery, DeliveryStatus


async def lanes_with_due_work(session: AsyncSession, now: datetime, limit: int = 1000) -> list[str]:
    """Lanes holding deliveries that are due, or claimed by a worker whose lease ran out."""
    due = (col(Delivery.status) == DeliveryStatus.PENDING) & (col(Delivery.next_attempt_at) <= now)
    expired = (col(Delivery.status) == DeliveryStatus.IN_FLIGHT) & (col(Delivery.lease_expires_at) < now)
    stmt = select(Delivery.lane).where(or_(due, expired)).distinct().limit(limit)
    return [str(lane) for lane in (await session.execute(stmt)).scalars()]


async def open_counts(session: AsyncSession) -> dict[str, int]:
    """Unfinished deliveries by status, for the operators' gauge."""
    stmt = (
        select(Delivery.status, func.count())
        .where(col(Delivery.status).in_(OPEN_STATUSES))
        .group_by(Delivery.status)
    )
    return {str(status): int(n) for status, n in (await session.execute(stmt)).all()}
