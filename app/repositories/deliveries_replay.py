"""SQL for operator interventions on deliveries: replay and discard.

Rows are locked before they change, so an operator and the Transfer job never both move the same
delivery; statuses a worker is busy with (``in_flight``) are never touched here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from app.models import Delivery, DeliveryStatus
from app.repositories.deliveries_query import DeliveryFilter, conditions

REPLAYABLE = (DeliveryStatus.DEAD, DeliveryStatus.DISCARDED, DeliveryStatus.UNMATCHED, DeliveryStatus.STALE)
DISCARDABLE = (
    DeliveryStatus.PENDING,
    DeliveryStatus.AWAITING_TRANSFER,
    DeliveryStatus.UNMATCHED,
    DeliveryStatus.DEAD,
)
# Waiting work of a deleted connection: never claimed by a worker at this moment, so safe to discard.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.AWAITING_TRANSFER, DeliveryStatus.UNMATCHED)


async def lock(session: AsyncSession, delivery_id: int) -> Delivery | None:
    stmt = select(Delivery).where(col(Delivery.id) == delivery_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def make_pending(delivery: Delivery, now: datetime) -> None:
    """Due now, unowned; ``attempts`` and the attempt rows stay as history."""
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.retrying_since = None  # a replay gets the whole retry horizon again
    delivery.lease_owner = None
    delivery.lease_expires_at = None
    delivery.finished_at = None
    delivery.updated_at = now


def make_discarded(delivery: Delivery, now: datetime) -> None:
    delivery.status = DeliveryStatus.DISCARDED
    delivery.lease_owner = None
    delivery.lease_expires_at = None
    delivery.finished_at = now
    delivery.updated_at = now


def _bulk_conditions(
    f: DeliveryFilter, up_to_id: int | None, as_of: datetime | None
) -> list[ColumnElement[bool]]:
    where = conditions(f)
    if up_to_id is not None:
        where.append(col(Delivery.id) <= up_to_id)
    if as_of is not None:
        # a delivery that changed after the dry run was not part of what the operator saw
        where.append(col(Delivery.updated_at) <= as_of)
    return where


async def count_matching(
    session: AsyncSession, f: DeliveryFilter, *, up_to_id: int | None, as_of: datetime | None
) -> tuple[int, int | None]:
    """How many deliveries match, and the highest id among them."""
    stmt = select(func.count(), func.max(Delivery.id)).where(*_bulk_conditions(f, up_to_id, as_of))
    matched, highest = (await session.execute(stmt)).one()
    return int(matched), int(highest) if highest is not None else None


async def lock_matching(
    session: AsyncSession, f: DeliveryFilter, *, up_to_id: int | None, as_of: datetime | None, limit: int
) -> list[Delivery]:
    """Up to ``limit`` matching deliveries, oldest first, locked for this transaction."""
    stmt = (
        select(Delivery)
        .where(*_bulk_conditions(f, up_to_id, as_of))
        .order_by(col(Delivery.id))
        .limit(limit)
        .with_for_update()
    )
    return list((await session.execute(stmt)).scalars())


async def discard_waiting_for_connection(session: AsyncSession, connection_id: str, now: datetime) -> int:
    result = await session.execute(
        update(Delivery)
        .where(col(Delivery.connection_id) == connection_id, col(Delivery.status).in_(WAITING))
        .values(
            status=DeliveryStatus.DISCARDED,
            finished_at=now,
            updated_at=now,
            last_error_code="CONNECTION_DELETED",
            last_error=f"connection {connection_id} was deleted before this was delivered",
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
