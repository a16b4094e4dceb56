"""SQL for dead letters as the console groups them: the few columns that say why each one died."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.models import Delivery, DeliveryStatus

MAX_SCANNED = 10_000  # newest dead letters grouped; the page says when there are more


@dataclass(frozen=True)
class DeadRow:
    id: int
    connection_id: str | None
    operation: str
    source_object: str
    source_id: str
    error_code: str | None
    error: str | None
    updated_at: datetime


async def dead_rows(
    session: AsyncSession,
    *,
    up_to_id: int | None = None,
    as_of: datetime | None = None,
    limit: int = MAX_SCANNED,
) -> list[DeadRow]:
    """Dead deliveries, newest first; with a pin, only those no newer than ``up_to_id`` and unchanged
    since ``as_of`` (what a dry run counted)."""
    stmt = select(
        col(Delivery.id),
        col(Delivery.connection_id),
        col(Delivery.operation),
        col(Delivery.source_object),
        col(Delivery.source_id),
        col(Delivery.last_error_code),
        col(Delivery.last_error),
        col(Delivery.updated_at),
    ).where(col(Delivery.status) == DeliveryStatus.DEAD)
    if up_to_id is not None:
        stmt = stmt.where(col(Delivery.id) <= up_to_id)
    if as_of is not None:
        stmt = stmt.where(col(Delivery.updated_at) <= as_of)
    stmt = stmt.order_by(col(Delivery.id).desc()).limit(limit)
    return [
        DeadRow(int(id_ or 0), conn, op, obj, src, code, error, at)
        for id_, conn, op, obj, src, code, error, at in await session.execute(stmt)
    ]
