"""SQL for initial loads: one holder at a time (a claim), and a cursor saved with every page it stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import InitialLoad

OPEN = ("queued", "running")


async def get(session: AsyncSession, load_id: int) -> InitialLoad | None:
    return await session.get(InitialLoad, load_id)


async def open_load(session: AsyncSession) -> InitialLoad | None:
    stmt = select(InitialLoad).where(col(InitialLoad.status).in_(OPEN)).order_by(col(InitialLoad.id))
    return (await session.execute(stmt.limit(1))).scalars().first()


async def page(session: AsyncSession, *, before_id: int | None, limit: int) -> list[InitialLoad]:
    stmt = select(InitialLoad).order_by(col(InitialLoad.id).desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(col(InitialLoad.id) < before_id)
    return list((await session.execute(stmt)).scalars())


async def claim(
    session: AsyncSession, load_id: int, holder: str, now: datetime, silent_since: datetime
) -> InitialLoad | None:
    """Take the load: a queued one, or a running one whose holder went silent. None: someone alive has it,
    or it has finished."""
    stmt = (
        update(InitialLoad)
        .where(
            col(InitialLoad.id) == load_id,
            or_(
                col(InitialLoad.status) == "queued",
                (col(InitialLoad.status) == "running")
                & (func.coalesce(col(InitialLoad.heartbeat_at), col(InitialLoad.created_at)) < silent_since),
            ),
        )
        .values(
            status="running",
            holder=holder,
            heartbeat_at=now,
            started_at=func.coalesce(col(InitialLoad.started_at), now),
        )
        .returning(col(InitialLoad.id))
    )
    if (await session.execute(stmt)).first() is None:
        return None
    return await session.get(InitialLoad, load_id, populate_existing=True)


async def save_page(
    session: AsyncSession,
    load_id: int,
    holder: str,
    now: datetime,
    cursors: dict[str, Any],
    event_range: tuple[int | None, int | None],
) -> bool:
    """A page's cursor, in the transaction that stored its events. False: the load is no longer ours."""
    first, last = event_range
    values = {"cursors": cursors, "heartbeat_at": now, "first_event_id": first, "last_event_id": last}
    return await _update_held(session, load_id, holder, values)


async def beat(session: AsyncSession, load_id: int, holder: str, now: datetime) -> bool:
    return await _update_held(session, load_id, holder, {"heartbeat_at": now})


async def finish(
    session: AsyncSession,
    load_id: int,
    holder: str,
    status: str,
    now: datetime,
    errors: list[Any],
    cursors: dict[str, Any],
) -> bool:
    values = {"status": status, "finished_at": now, "errors": errors, "holder": None, "cursors": cursors}
    return await _update_held(session, load_id, holder, values)


async def _update_held(session: AsyncSession, load_id: int, holder: str, values: dict[str, Any]) -> bool:
    stmt = (
        update(InitialLoad)
        .where(
            col(InitialLoad.id) == load_id,
            col(InitialLoad.holder) == holder,
            col(InitialLoad.status) == "running",
        )
        .values(**values)
    )
    return bool(getattr(await session.execute(stmt), "rowcount", 0))


async def requeue(session: AsyncSession, load_id: int) -> bool:
    """A failed load goes back to the queue; it resumes from its cursors."""
    stmt = (
        update(InitialLoad)
        .where(col(InitialLoad.id) == load_id, col(InitialLoad.status) == "failed")
        .values(status="queued", finished_at=None, errors=[], holder=None)
    )
    return bool(getattr(await session.execute(stmt), "rowcount", 0))


async def needing_a_worker(session: AsyncSession, silent_since: datetime) -> list[InitialLoad]:
    """Loads no live worker holds: queued ones whose job may be lost, running ones whose holder went silent."""
    last_sign = func.coalesce(col(InitialLoad.heartbeat_at), col(InitialLoad.created_at))
    stmt = select(InitialLoad).where(col(InitialLoad.status).in_(OPEN), last_sign < silent_since)
    return list((await session.execute(stmt)).scalars())


DELIVERIES_OF_LOAD = text(
    """
    SELECT d.status, count(*) AS n
    FROM deliveries d JOIN inbox_events e ON e.id = d.event_id
    WHERE e.id BETWEEN :low AND :high AND e.webhook_id LIKE :prefix
    GROUP BY d.status
    """
)
EVENTS_OF_LOAD = text(
    """
    SELECT e.status, count(*) AS n FROM inbox_events e
    WHERE e.id BETWEEN :low AND :high AND e.webhook_id LIKE :prefix
    GROUP BY e.status
    """
)


async def outcome_counts(session: AsyncSession, load: InitialLoad, prefix: str) -> dict[str, dict[str, int]]:
    """The load's events by status, and their deliveries by status (a range scan on the events' ids)."""
    if load.first_event_id is None or load.last_event_id is None:
        return {"events": {}, "deliveries": {}}
    params = {"low": load.first_event_id, "high": load.last_event_id, "prefix": prefix + "%"}
    events = {str(r.status): int(r.n) for r in await session.execute(EVENTS_OF_LOAD, params)}
    deliveries = {str(r.status): int(r.n) for r in await session.execute(DELIVERIES_OF_LOAD, params)}
    return {"events": events, "deliveries": deliveries}
