"""SQL for deliveries: claiming with a lease, finishing, and their attempts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import exists, func, insert, or_, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import Delivery, DeliveryAttempt, DeliveryStatus, InboxEvent
from app.repositories.rows import DELIVERY_COLUMNS, DeliveryRow, EventRow, core_execute

_DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table classes
_EVENTS = InboxEvent.__table__  # type: ignore[attr-defined]


def _due(lane: str, now: datetime) -> Any:
    pending = (col(Delivery.status) == DeliveryStatus.PENDING) & (col(Delivery.next_attempt_at) <= now)
    # a claim whose worker died (lease ran out) is due again
    expired = (col(Delivery.status) == DeliveryStatus.IN_FLIGHT) & (col(Delivery.lease_expires_at) < now)
    return (col(Delivery.lane) == lane) & or_(pending, expired)


async def due_count(session: AsyncSession, lane: str, now: datetime) -> int:
    return int((await session.execute(select(func.count()).where(_due(lane, now)))).scalar_one())


async def due_summary(session: AsyncSession, lane: str, now: datetime) -> tuple[int, datetime | None]:
    """How many deliveries of a lane are due, and when the oldest of them was made."""
    row = (
        await session.execute(select(func.count(), func.min(Delivery.created_at)).where(_due(lane, now)))
    ).one()
    oldest = row[1]
    if isinstance(oldest, datetime) and oldest.tzinfo is None:  # SQLite hands aggregates back naive
        oldest = oldest.replace(tzinfo=UTC)
    return int(row[0]), oldest if isinstance(oldest, datetime) else None


async def next_due_at(session: AsyncSession, lane: str) -> datetime | None:
    stmt = select(func.min(Delivery.next_attempt_at)).where(
        col(Delivery.lane) == lane, col(Delivery.status) == DeliveryStatus.PENDING
    )
    value = (await session.execute(stmt)).scalar_one_or_none()
    return value if isinstance(value, datetime) else None


async def claim(
    session: AsyncSession, lane: str, owner: str, now: datetime, lease_seconds: float, limit: int
) -> list[DeliveryRow]:
    """Take up to `limit` due deliveries of a lane, oldest first, under a lease that expires: one
    `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, so concurrent claimers skip each
    other's rows and the batch costs one statement, not a load and a flush. Plain rows come back, not
    ORM objects (app/repositories/rows.py)."""
    d, busy = _DELIVERIES, _DELIVERIES.alias("busy")
    # a record whose earlier change is still out (the partition's previous batch) waits for it: its
    # changes leave in order, and a batch is never judged against links the one before has yet to write
    in_flight = exists().where(
        busy.c.lane == d.c.lane,
        busy.c.source_object == d.c.source_object,
        busy.c.source_id == d.c.source_id,
        busy.c.status == DeliveryStatus.IN_FLIGHT,
        busy.c.lease_expires_at >= now,
        busy.c.id != d.c.id,
    )
    due = (
        select(d.c.id)
        .where(_due(lane, now), ~in_flight)
        .order_by(d.c.id)
        .limit(limit)
        .with_for_update(of=d, skip_locked=True)
    )
    stmt = (
        update(_DELIVERIES)
        .where(_DELIVERIES.c.id.in_(due))
        .values(
            status=DeliveryStatus.IN_FLIGHT,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=_DELIVERIES.c.attempts + 1,
            updated_at=now,
        )
        .returning(*DELIVERY_COLUMNS)
    )
    rows = [DeliveryRow(*row) for row in await core_execute(session, stmt)]
    return sorted(rows, key=lambda d: d.id)


async def events_for(session: AsyncSession, deliveries: Iterable[DeliveryRow]) -> dict[int, EventRow]:
    ids = {d.event_id for d in deliveries if d.event_id is not None}
    if not ids:
        return {}
    stmt = select(_EVENTS.c.id, _EVENTS.c.type, _EVENTS.c.payload).where(_EVENTS.c.id.in_(ids))
    return {int(i): EventRow(t, p) for i, t, p in await core_execute(session, stmt)}


async def finish(session: AsyncSession, delivery_id: int, owner: str, values: dict[str, Any]) -> bool:
    """Write a delivery's outcome, only if this worker still holds its lease (else another took it over)."""
    result = await session.execute(
        update(Delivery)
        .where(
            col(Delivery.id) == delivery_id,
            col(Delivery.lease_owner) == owner,
            col(Delivery.status) == DeliveryStatus.IN_FLIGHT,
        )
        .values(lease_owner=None, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)  # nothing in the session reads these rows again
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


_ATTEMPTS = DeliveryAttempt.__table__  # type: ignore[attr-defined]


async def add_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """New deliveries (full rows), one Core executemany: no ORM objects, no bulk-insert bookkeeping."""
    if rows:
        await session.execute(insert(_DELIVERIES), rows)


async def add_attempts(session: AsyncSession, attempts: list[dict[str, Any]]) -> None:
    """Attempt rows of a batch, one Core multi-row INSERT."""
    if attempts:
        await session.execute(insert(_ATTEMPTS), attempts)


_SUCCEEDED = (DeliveryStatus.DELIVERED, DeliveryStatus.UNCHANGED)


async def close_superseded(session: AsyncSession, lane: str, source_ids: list[str], now: datetime) -> int:
    """Dead letters of these records that a later delivery in the same lane has since delivered (or
    found already there) are closed as `superseded`: replaying them would send older content. One
    UPDATE per batch; the (status, lane, …) index finds the few dead rows, usually none."""
    if not source_ids:
        return 0
    d, later = _DELIVERIES, _DELIVERIES.alias("later")
    stmt = (
        update(d)
        .where(
            d.c.status == DeliveryStatus.DEAD,
            d.c.lane == lane,
            d.c.source_id.in_(source_ids),
            exists().where(
                later.c.lane == d.c.lane,
                later.c.source_object == d.c.source_object,
                later.c.source_id == d.c.source_id,
                later.c.id > d.c.id,
                later.c.status.in_(_SUCCEEDED),
            ),
        )
        .values(status=DeliveryStatus.SUPERSEDED, updated_at=now, finished_at=now)
    )
    return int((await core_execute(session, stmt)).rowcount)


async def release_waiting(
    session: AsyncSession, status: DeliveryStatus, now: datetime, *, older_than: datetime | None = None
) -> list[str]:
    """Make waiting deliveries (unmatched, awaiting transfer) due now; returns the lanes to wake."""
    conditions = [col(Delivery.status) == status]
    if older_than is not None:
        conditions.append(col(Delivery.created_at) >= older_than)
    stmt = (
        update(Delivery)
        .where(*conditions)
        .values(status=DeliveryStatus.PENDING, next_attempt_at=now, updated_at=now)
        .returning(col(Delivery.lane))
    )
    return sorted({str(lane) for lane in (await session.execute(stmt)).scalars()})


# One statement finishes a whole batch on PostgreSQL: the rows' new values travel as arrays.
_FINISH_MANY = text(
    """
    UPDATE deliveries AS d SET
        status = v.status,
        last_error_code = v.code,
        last_error = v.error,
        target_object = COALESCE(v.target_object, d.target_object),
        target_id = COALESCE(v.target_id, d.target_id),
        payload = COALESCE(CAST(v.payload AS JSONB), d.payload),
        next_attempt_at = COALESCE(v.next_attempt_at, d.next_attempt_at),
        retrying_since = v.retrying_since,
        finished_at = v.finished_at,
        attempts = COALESCE(v.attempts, d.attempts),
        updated_at = :now,
        lease_owner = NULL,
        lease_expires_at = NULL
    FROM unnest(
        CAST(:ids AS BIGINT[]), CAST(:statuses AS TEXT[]), CAST(:codes AS TEXT[]), CAST(:errors AS TEXT[]),
        CAST(:target_objects AS TEXT[]), CAST(:target_ids AS TEXT[]), CAST(:payloads AS TEXT[]),
        CAST(:next_attempts AS TIMESTAMPTZ[]), CAST(:retrying AS TIMESTAMPTZ[]),
        CAST(:finished AS TIMESTAMPTZ[]), CAST(:attempts AS INTEGER[])
    ) AS v(id, status, code, error, target_object, target_id, payload, next_attempt_at, retrying_since,
           finished_at, attempts)
    WHERE d.id = v.id AND d.lease_owner = :owner AND d.status = 'in_flight'
    RETURNING d.id
    """
)
_FINISH_COLUMNS = {
    "ids": "id",
    "statuses": "status",
    "codes": "last_error_code",
    "errors": "last_error",
    "target_objects": "target_object",
    "target_ids": "target_id",
    "payloads": "payload",
    "next_attempts": "next_attempt_at",
    "retrying": "retrying_since",
    "finished": "finished_at",
    "attempts": "attempts",  # only where an outcome corrects the claim's count (a throttled batch)
}


async def finish_many(
    session: AsyncSession, owner: str, now: datetime, rows: list[dict[str, Any]]
) -> set[int]:
    """Write the outcomes of a batch (each row: the columns of `_FINISH_COLUMNS`), only where this worker
    still holds the lease. Returns the ids written; the others were taken over by another worker."""
    if not rows:
        return set()
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        params: dict[str, Any] = {"owner": owner, "now": now}
        for param, column in _FINISH_COLUMNS.items():
            column_values = [r.get(column) for r in rows]
            if column == "payload":
                column_values = [None if v is None else orjson.dumps(v).decode() for v in column_values]
            params[param] = column_values
        return {int(i) for i in (await session.execute(_FINISH_MANY, params)).scalars()}
    done: set[int] = set()  # SQLite (embedded, one process): a statement per row is fine
    for row in rows:
        changes = {k: v for k, v in row.items() if k != "id"}
        for keep in ("target_object", "target_id", "payload", "next_attempt_at", "attempts"):
            if changes.get(keep) is None:
                changes.pop(keep, None)
        if await finish(session, int(row["id"]), owner, {**changes, "updated_at": now}):
            done.add(int(row["id"]))
    return done
