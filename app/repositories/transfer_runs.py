"""SQL for Transfer job runs (one running at a time, by a unique index) and catch-up watermarks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import TransferRun, Watermark


async def abandon_stale(session: AsyncSession, now: datetime, older_than: timedelta) -> None:
    """A run still 'running' long after it should have ended died with its worker: close it as failed."""
    await session.execute(
        update(TransferRun)
        .where(col(TransferRun.status) == "running", col(TransferRun.started_at) < now - older_than)
        .values(
            status="failed",
            finished_at=now,
            errors=[{"code": "ABANDONED", "message": "the worker running it stopped"}],
        )
    )


async def begin(session: AsyncSession, run: TransferRun) -> bool:
    """Mark a run as the running one; False when another run already is (the unique index says so)."""
    run.status = "running"
    try:
        async with session.begin_nested():
            session.add(run)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def get(session: AsyncSession, run_id: int) -> TransferRun | None:
    return await session.get(TransferRun, run_id)


async def running(session: AsyncSession) -> TransferRun | None:
    return (
        (await session.execute(select(TransferRun).where(col(TransferRun.status) == "running")))
        .scalars()
        .first()
    )


async def finish(
    session: AsyncSession, run_id: int, status: str, now: datetime, counts: dict[str, Any], errors: list[Any]
) -> None:
    await session.execute(
        update(TransferRun)
        .where(col(TransferRun.id) == run_id)
        .values(status=status, finished_at=now, counts=counts, errors=errors)
    )


async def watermark(session: AsyncSession, key: str) -> datetime | None:
    row = await session.get(Watermark, key)
    return row.value if row else None


async def set_watermark(session: AsyncSession, key: str, value: datetime, now: datetime) -> None:
    row = await session.get(Watermark, key)
    if row is None:
        session.add(Watermark(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now
    await session.flush()
