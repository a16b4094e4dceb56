"""SQL for finding where a source record went (its links in each target system)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import RecordLink


async def page(
    session: AsyncSession,
    *,
    source_system: str | None,
    source_id: str,
    source_object: str | None,
    connection_id: str | None,
    after_id: int | None,
    limit: int,
) -> list[RecordLink]:
    stmt = select(RecordLink).where(col(RecordLink.source_id) == source_id)
    if source_system is not None:
        stmt = stmt.where(col(RecordLink.source_system) == source_system)
    if source_object is not None:
        stmt = stmt.where(col(RecordLink.source_object) == source_object)
    if connection_id is not None:
        stmt = stmt.where(col(RecordLink.connection_id) == connection_id)
    if after_id is not None:
        stmt = stmt.where(col(RecordLink.id) > after_id)
    return list((await session.execute(stmt.order_by(col(RecordLink.id)).limit(limit))).scalars())
