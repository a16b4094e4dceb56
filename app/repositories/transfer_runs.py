"""SQL for Transfer job runs (one running at a time, by a unique index) and catch-up watermarks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import TransferRun, Watermark


async def abandon_stale(session: AsyncSession, now: datetime, silent_for: timedelta) -> None:
    """A 'running' run whose holder stopped renewing its heartbeat died with it: close it as failed.
    Age alone says nothing: a long run that is alive keeps beating and is never abandoned."""
    last_sign = func.coalesce(col(TransferRun.heartbeat_at), col(TransferRun.started_at))
    await session.execute(
        update(TransferRun)
        .where(col(TransferRun.status) == "running", last_sign < now - silent_for)
        .values(
            status="failed",
            finished_at=now,
            errors=[{"code": "ABANDONED", "message": "the worker running it stopped"}],
        )
    )


async def begin(session: AsyncSession, run: TransferRun) -> bool:
    """Mark a run as the running one; False when another run already is (the unique index says so)."""
    run.status = "running"
    run.heartbeat_at = run.started_at
    try:
        async with session.begin_nested():
            session.add(run)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def beat(session: AsyncSession, run_id: int, now: datetime) -> bool:
    """The holder is alive. False when the run is no longer running (someone abandoned it)."""
    result = await session.execute(
        update(TransferRun)
        .where(col(TransferRun.id) == run_id, col(TransferRun.status) == "running")
        .values(heartbeat_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


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
