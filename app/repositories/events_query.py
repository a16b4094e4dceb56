"""SQL for reading inbox events the way operators look for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import InboxEvent


@dataclass(frozen=True)
class EventFilter:
    statuses: tuple[str, ...] = ()
    source: str | None = None
    type: str | None = None
    connection_id: str | None = None
    object: str | None = None
    record_id: str | None = None
    received_after: datetime | None = None
    received_before: datetime | None = None


def _conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.statuses:
        where.append(col(InboxEvent.status).in_(f.statuses))
    for column, value in (
        (InboxEvent.source, f.source),
        (InboxEvent.type, f.type),
        (InboxEvent.connection_id, f.connection_id),
        (InboxEvent.object, f.object),
        (InboxEvent.record_id, f.record_id),
    ):
        if value is not None:
            where.append(col(column) == value)
    if f.received_after is not None:
        where.append(col(InboxEvent.received_at) >= f.received_after)
    if f.received_before is not None:
        where.append(col(InboxEvent.received_at) < f.received_before)
    return where


async def page(
    session: AsyncSession, f: EventFilter, *, before_id: int | None, limit: int
) -> list[InboxEvent]:
    """Newest first; ``limit`` rows at most, older than ``before_id`` when given."""
    stmt = select(InboxEvent).where(*_conditions(f))
    if before_id is not None:
        stmt = stmt.where(col(InboxEvent.id) < before_id)
    stmt = stmt.order_by(col(InboxEvent.id).desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, event_id: int) -> InboxEvent | None:
    return await session.get(InboxEvent, event_id)
