"""SQL for throttle gates: one row per target that asked us to slow down."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import ThrottleGate


async def raise_gate(session: AsyncSession, target: str, until: datetime, reason: str) -> datetime:
    """Pause a target until `until`, or keep a later pause already set: one statement, safe when several
    workers raise the same gate at once. Returns the pause now in force."""
    bind = session.bind
    postgres = bind is not None and bind.dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    stmt = insert(ThrottleGate).values(target=target, paused_until=until, reason=reason)
    later = func.greatest if postgres else func.max  # SQLite's two-argument max() is greatest()
    table = ThrottleGate.__table__  # type: ignore[attr-defined]
    keep_later = later(table.c.paused_until, stmt.excluded.paused_until)
    upsert = stmt.on_conflict_do_update(
        index_elements=[table.c.target],
        set_={
            "paused_until": keep_later,
            # the reason goes with the pause that wins
            "reason": case(
                (stmt.excluded.paused_until > table.c.paused_until, stmt.excluded.reason),
                else_=table.c.reason,
            ),
        },
    ).returning(table.c.paused_until)
    value = (await session.execute(upsert)).scalar_one()
    assert isinstance(value, datetime)
    return value


async def paused_until(session: AsyncSession, target: str) -> tuple[datetime, str] | None:
    """The target's gate (one primary-key read), whether or not it is still running."""
    row = (
        await session.execute(
            select(ThrottleGate.paused_until, ThrottleGate.reason).where(col(ThrottleGate.target) == target)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def running(session: AsyncSession, now: datetime) -> list[ThrottleGate]:
    """Gates still in force, for operators."""
    stmt = select(ThrottleGate).where(col(ThrottleGate.paused_until) > now).order_by(col(ThrottleGate.target))
    return list((await session.execute(stmt)).scalars())
