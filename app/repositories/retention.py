"""SQL for retention: bounded deletes of old finished work. Links, account matches and the audit log are
never touched here; open deliveries, and events any delivery still refers to, are never deleted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.models import OPEN_STATUSES, Delivery, DeliveryAttempt, EventStatus, InboxEvent


def _finished_before(cutoff: datetime) -> list[ColumnElement[bool]]:
    return [col(Delivery.status).not_in([str(s) for s in OPEN_STATUSES]), col(Delivery.updated_at) < cutoff]


async def delete_attempts(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Attempts of deliveries finished before `cutoff`, at most `limit` rows."""
    batch = (
        select(col(DeliveryAttempt.id))
        .join(Delivery, col(Delivery.id) == col(DeliveryAttempt.delivery_id))
        .where(*_finished_before(cutoff))
        .order_by(col(DeliveryAttempt.id))
        .limit(limit)
    )
    result = await session.execute(delete(DeliveryAttempt).where(col(DeliveryAttempt.id).in_(batch)))
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_deliveries(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Deliveries finished before `cutoff`, at most `limit`; the conditions are repeated outside the
    batch so a delivery replayed meanwhile (open again) is kept."""
    batch = select(col(Delivery.id)).where(*_finished_before(cutoff)).order_by(col(Delivery.id)).limit(limit)
    stmt = delete(Delivery).where(col(Delivery.id).in_(batch), *_finished_before(cutoff))
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_events(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Handled events received before `cutoff` that no delivery refers to any more, at most `limit`."""
    referenced = exists().where(col(Delivery.event_id) == col(InboxEvent.id))
    handled = col(InboxEvent.status) != EventStatus.RECEIVED
    batch = (
        select(col(InboxEvent.id))
        .where(handled, col(InboxEvent.received_at) < cutoff, ~referenced)
        .order_by(col(InboxEvent.id))
        .limit(limit)
    )
    result = await session.execute(delete(InboxEvent).where(col(InboxEvent.id).in_(batch), handled))
    return int(getattr(result, "rowcount", 0) or 0)
