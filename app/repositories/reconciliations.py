"""SQL for reconciliation runs, their drifts, and the link and delivery reads a run compares."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import OPEN_STATUSES, Delivery, DeliveryStatus, Drift, Reconciliation, RecordLink

OPEN = ("queued", "running")


async def get(session: AsyncSession, run_id: int) -> Reconciliation | None:
    return await session.get(Reconciliation, run_id)


async def open_run(session: AsyncSession) -> Reconciliation | None:
    stmt = select(Reconciliation).where(col(Reconciliation.status).in_(OPEN)).order_by(col(Reconciliation.id))
    return (await session.execute(stmt.limit(1))).scalars().first()


async def page(session: AsyncSession, *, before_id: int | None, limit: int) -> list[Reconciliation]:
    stmt = select(Reconciliation).order_by(col(Reconciliation.id).desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(col(Reconciliation.id) < before_id)
    return list((await session.execute(stmt)).scalars())


async def abandon_stale(
    session: AsyncSession, silent_since: datetime, now: datetime, *, queued_before: datetime | None = None
) -> None:
    """A running run whose worker stopped beating died with it (a report half-written is not a report);
    with `queued_before`, a queued run no worker took since then too (its job was lost)."""
    stale = (col(Reconciliation.status) == "running") & (
        func.coalesce(col(Reconciliation.heartbeat_at), col(Reconciliation.created_at)) < silent_since
    )
    if queued_before is not None:
        stale = stale | (
            (col(Reconciliation.status) == "queued") & (col(Reconciliation.created_at) < queued_before)
        )
    await session.execute(
        update(Reconciliation)
        .where(stale)
        .values(
            status="failed",
            finished_at=now,
            errors=[{"code": "ABANDONED", "message": "no worker ran it to its end"}],
        )
    )


async def claim(session: AsyncSession, run_id: int, now: datetime) -> bool:
    stmt = (
        update(Reconciliation)
        .where(col(Reconciliation.id) == run_id, col(Reconciliation.status) == "queued")
        .values(status="running", started_at=now, heartbeat_at=now)
    )
    return bool(getattr(await session.execute(stmt), "rowcount", 0))


async def beat(session: AsyncSession, run_id: int, now: datetime) -> bool:
    stmt = (
        update(Reconciliation)
        .where(col(Reconciliation.id) == run_id, col(Reconciliation.status) == "running")
        .values(heartbeat_at=now)
    )
    return bool(getattr(await session.execute(stmt), "rowcount", 0))


async def finish(session: AsyncSession, run_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(Reconciliation).where(col(Reconciliation.id) == run_id).values(**values))


async def add_drifts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Drift), list(rows))


async def drift_counts(session: AsyncSession, run_id: int) -> dict[str, int]:
    stmt = (
        select(Drift.kind, func.count())
        .where(col(Drift.reconciliation_id) == run_id)
        .group_by(col(Drift.kind))
    )
    return {str(kind): int(n) for kind, n in (await session.execute(stmt)).all()}


async def drifts(
    session: AsyncSession,
    run_id: int,
    *,
    kinds: Sequence[str] | None = None,
    connection_id: str | None = None,
    source_ids: Sequence[str] | None = None,
    unrepaired: bool = False,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[Drift]:
    stmt = select(Drift).where(col(Drift.reconciliation_id) == run_id).order_by(col(Drift.id))
    if kinds:
        stmt = stmt.where(col(Drift.kind).in_(list(kinds)))
    if connection_id is not None:
        stmt = stmt.where(col(Drift.connection_id) == connection_id)
    if source_ids:
        stmt = stmt.where(col(Drift.source_id).in_(list(source_ids)))
    if unrepaired:
        stmt = stmt.where(col(Drift.repaired_at).is_(None))
    if after_id is not None:
        stmt = stmt.where(col(Drift.id) > after_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


IN_CHUNK = 1_000  # values per IN (...): far below the driver's 32,767 parameters


async def mark_repaired(session: AsyncSession, drift_ids: Sequence[int], now: datetime) -> None:
    ids = list(drift_ids)
    for start in range(0, len(ids), IN_CHUNK):
        part = ids[start : start + IN_CHUNK]
        await session.execute(update(Drift).where(col(Drift.id).in_(part)).values(repaired_at=now))


async def links_page(
    session: AsyncSession, connection_id: str, *, after_id: int, limit: int
) -> list[RecordLink]:
    stmt = (
        select(RecordLink)
        .where(col(RecordLink.connection_id) == connection_id, col(RecordLink.id) > after_id)
        .order_by(col(RecordLink.id))
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def linked_source_ids(session: AsyncSession, connection_id: str, target_object: str) -> set[str]:
    stmt = select(RecordLink.source_id).where(
        col(RecordLink.connection_id) == connection_id, col(RecordLink.target_object) == target_object
    )
    return {str(i) for i in (await session.execute(stmt)).scalars()}


async def linked_sources(
    session: AsyncSession, connection_id: str, source_system: str, source_object: str
) -> set[str]:
    stmt = select(RecordLink.source_id).where(
        col(RecordLink.connection_id) == connection_id,
        col(RecordLink.source_system) == source_system,
        col(RecordLink.source_object) == source_object,
    )
    return {str(i) for i in (await session.execute(stmt)).scalars()}


async def links_of(
    session: AsyncSession, connection_id: str, source_system: str, source_object: str, ids: Sequence[str]
) -> dict[str, RecordLink]:
    """The links of these records to one connection, by source id."""
    found: dict[str, RecordLink] = {}
    ids = list(ids)
    for start in range(0, len(ids), IN_CHUNK):
        stmt = select(RecordLink).where(
            col(RecordLink.connection_id) == connection_id,
            col(RecordLink.source_system) == source_system,
            col(RecordLink.source_object) == source_object,
            col(RecordLink.source_id).in_(ids[start : start + IN_CHUNK]),
        )
        found.update({link.source_id: link for link in (await session.execute(stmt)).scalars()})
    return found


async def in_transit(
    session: AsyncSession, connection_id: str | None, source_object: str | None = None
) -> set[str]:
    """Source ids with a delivery to this connection (None: into the CTMS itself, F8) not finished yet
    (it is on its way, not missing), of one source object or all."""
    target = (
        col(Delivery.connection_id).is_(None)
        if connection_id is None
        else col(Delivery.connection_id) == connection_id
    )
    stmt = select(Delivery.source_id).where(target, col(Delivery.status).in_(list(OPEN_STATUSES)))
    if source_object is not None:
        stmt = stmt.where(col(Delivery.source_object) == source_object)
    return {str(i) for i in (await session.execute(stmt)).scalars()}


async def links_by_object(
    session: AsyncSession, connection_id: str, source_system: str, source_object: str
) -> dict[str, RecordLink]:
    """Every link of one source object to one connection (or to the CTMS itself), by source id."""
    stmt = select(RecordLink).where(
        col(RecordLink.connection_id) == connection_id,
        col(RecordLink.source_system) == source_system,
        col(RecordLink.source_object) == source_object,
    )
    return {link.source_id: link for link in (await session.execute(stmt)).scalars()}


async def unmatched(session: AsyncSession, connection_id: str) -> list[tuple[str, str, str | None]]:
    """(source object, source id, target object) of deliveries waiting for a person to match."""
    stmt = (
        select(Delivery.source_object, Delivery.source_id, Delivery.target_object)
        .where(col(Delivery.connection_id) == connection_id, col(Delivery.status) == DeliveryStatus.UNMATCHED)
        .distinct()
    )
    return [(str(o), str(i), t) for o, i, t in (await session.execute(stmt)).all()]


async def forget_content(
    session: AsyncSession, connection_id: str, source_system: str, pairs: Sequence[tuple[str, str]]
) -> None:
    """A forced re-sync: these links lose their content hash, so the next delivery writes whatever it finds."""
    for source_object in {o for o, _ in pairs}:
        ids = [i for o, i in pairs if o == source_object]
        for start in range(0, len(ids), IN_CHUNK):
            await session.execute(
                update(RecordLink)
                .where(
                    col(RecordLink.connection_id) == connection_id,
                    col(RecordLink.source_system) == source_system,
                    col(RecordLink.source_object) == source_object,
                    col(RecordLink.source_id).in_(ids[start : start + IN_CHUNK]),
                )
                .values(content_hash=None)
            )
