"""SQL for reading deliveries and their attempts the way operators look for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import Delivery, DeliveryAttempt


@dataclass(frozen=True)
class DeliveryFilter:
    statuses: tuple[str, ...] = ()
    connection_id: str | None = None
    operation: str | None = None
    direction: str | None = None
    source_object: str | None = None
    source_id: str | None = None
    event_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def conditions(f: DeliveryFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.statuses:
        where.append(col(Delivery.status).in_(f.statuses))
    for column, value in (
        (Delivery.connection_id, f.connection_id),
        (Delivery.operation, f.operation),
        (Delivery.direction, f.direction),
        (Delivery.source_object, f.source_object),
        (Delivery.source_id, f.source_id),
        (Delivery.event_id, f.event_id),
    ):
        if value is not None:
            where.append(col(column) == value)
    if f.created_after is not None:
        where.append(col(Delivery.created_at) >= f.created_after)
    if f.created_before is not None:
        where.append(col(Delivery.created_at) < f.created_before)
    return where


async def page(
    session: AsyncSession, f: DeliveryFilter, *, before_id: int | None, limit: int
) -> list[Delivery]:
    """Newest first; ``limit`` rows at most, older than ``before_id`` when given."""
    stmt = select(Delivery).where(*conditions(f))
    if before_id is not None:
        stmt = stmt.where(col(Delivery.id) < before_id)
    stmt = stmt.order_by(col(Delivery.id).desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def count(session: AsyncSession, f: DeliveryFilter) -> int:
    stmt = select(func.count()).select_from(Delivery).where(*conditions(f))
    return int((await session.execute(stmt)).scalar_one())


async def get(session: AsyncSession, delivery_id: int) -> Delivery | None:
    return await session.get(Delivery, delivery_id)


async def for_event(session: AsyncSession, event_id: int) -> list[Delivery]:
    stmt = select(Delivery).where(col(Delivery.event_id) == event_id).order_by(col(Delivery.id))
    return list((await session.execute(stmt)).scalars())


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[int]) -> dict[int, list[DeliveryAttempt]]:
    """Every attempt of the given deliveries, oldest first, by delivery id."""
    found: dict[int, list[DeliveryAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    stmt = (
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id).in_(list(delivery_ids)))
        .order_by(col(DeliveryAttempt.delivery_id), col(DeliveryAttempt.id))
    )
    for attempt in (await session.execute(stmt)).scalars():
        found[attempt.delivery_id].append(attempt)
    return found
