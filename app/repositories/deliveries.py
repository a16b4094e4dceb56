"""SQL for deliveries: claiming with a lease, finishing, and their attempts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import Delivery, DeliveryAttempt, DeliveryStatus, InboxEvent


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
) -> list[Delivery]:
    """Take up to `limit` due deliveries of a lane, oldest first, under a lease that expires."""
    stmt = (
        select(Delivery)
        .where(_due(lane, now))
        .order_by(col(Delivery.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    batch = list((await session.execute(stmt)).scalars())
    if not batch:
        return []
    expires = now + timedelta(seconds=lease_seconds)
    for delivery in batch:
        delivery.status = DeliveryStatus.IN_FLIGHT
        delivery.lease_owner = owner
        delivery.lease_expires_at = expires
        delivery.attempts += 1
        delivery.updated_at = now
    await session.flush()
    return batch


async def events_for(session: AsyncSession, deliveries: Iterable[Delivery]) -> dict[int, InboxEvent]:
    ids = {d.event_id for d in deliveries if d.event_id is not None}
    if not ids:
        return {}
    rows = await session.execute(select(InboxEvent).where(col(InboxEvent.id).in_(ids)))
    return {int(e.id): e for e in rows.scalars() if e.id is not None}


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


def add_attempts(session: AsyncSession, attempts: Iterable[DeliveryAttempt]) -> None:
    session.add_all(list(attempts))


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
