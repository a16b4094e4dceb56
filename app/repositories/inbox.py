"""SQL for the inbox of webhook events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import EventStatus, InboxEvent, utcnow


async def has_change(
    session: AsyncSession,
    sender: str,
    object_: str | None,
    record_id: str | None,
    modified: datetime | None,
    type_: str,
) -> bool:
    """Is this change of this record already in the inbox (under any webhook id)?"""
    stmt = select(InboxEvent.id).where(
        col(InboxEvent.sender) == sender,
        col(InboxEvent.object) == object_,
        col(InboxEvent.record_id) == record_id,
        col(InboxEvent.source_modified_at) == modified,
        col(InboxEvent.type) == type_,
    )
    return (await session.execute(stmt.limit(1))).first() is not None


async def claim_received(session: AsyncSession, limit: int) -> list[InboxEvent]:
    """Lock a batch of unplanned events, oldest first; concurrent claimers skip each other's rows."""
    stmt = (
        select(InboxEvent)
        .where(col(InboxEvent.status) == EventStatus.RECEIVED)
        .order_by(col(InboxEvent.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(stmt)).scalars())


async def get_many(session: AsyncSession, ids: list[int]) -> list[InboxEvent]:
    if not ids:
        return []
    stmt = select(InboxEvent).where(col(InboxEvent.id).in_(ids)).order_by(col(InboxEvent.id))
    return list((await session.execute(stmt)).scalars())


async def received_at_least(session: AsyncSession, n: int, source: str) -> bool:
    """Whether at least `n` events from `source` (ctms or crm) wait to be planned (counts no further than
    `n`, on the status index)."""
    waiting = (
        select(col(InboxEvent.id))
        .where(col(InboxEvent.status) == EventStatus.RECEIVED, col(InboxEvent.source) == source)
        .limit(n)
    )
    return (
        int((await session.execute(select(func.count()).select_from(waiting.subquery()))).scalar_one()) >= n
    )


async def count_received_before(session: AsyncSession, before: datetime) -> int:
    stmt = select(func.count()).where(
        col(InboxEvent.status) == EventStatus.RECEIVED, col(InboxEvent.received_at) < before
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark(
    session: AsyncSession,
    event_id: int,
    status: EventStatus,
    code: str | None = None,
    error: str | None = None,
) -> None:
    await session.execute(
        update(InboxEvent)
        .where(col(InboxEvent.id) == event_id)
        .values(status=status, error_code=code, error=error, processed_at=utcnow())
        .execution_options(synchronize_session=False)  # nothing in the session reads these rows again
    )


async def mark_many(
    session: AsyncSession,
    event_ids: list[int],
    status: EventStatus,
    code: str | None = None,
    error: str | None = None,
) -> None:
    """One UPDATE for every event of a planning batch that ends in the same status."""
    if event_ids:
        await session.execute(
            update(InboxEvent)
            .where(col(InboxEvent.id).in_(event_ids))
            .values(status=status, error_code=code, error=error, processed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
