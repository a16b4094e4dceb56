"""SQL for reading Transfer job runs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import TransferRun


async def page(
    session: AsyncSession, *, status: str | None, trigger: str | None, before_id: int | None, limit: int
) -> list[TransferRun]:
    """Newest first."""
    stmt = select(TransferRun)
    if status is not None:
        stmt = stmt.where(col(TransferRun.status) == status)
    if trigger is not None:
        stmt = stmt.where(col(TransferRun.trigger) == trigger)
    if before_id is not None:
        stmt = stmt.where(col(TransferRun.id) < before_id)
    return list((await session.execute(stmt.order_by(col(TransferRun.id).desc()).limit(limit))).scalars())


async def get(session: AsyncSession, run_id: int) -> TransferRun | None:
    return await session.get(TransferRun, run_id)
