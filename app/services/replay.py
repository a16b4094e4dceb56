"""Operators fixing failures: replay a delivery (one, or every one a filter matches) or discard it.

Replay makes a delivery due now; the caller wakes its lane after the commit (the sweeper would find it
anyway, a sweep interval later). Bulk replay is two-step: a dry run counts and pins the set (highest id
and the time of the count), and the real run replays only deliveries inside that pin, in chunks, so a
dead letter that appears in between is not swept along unseen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.logging import get_logger
from app.models import Delivery, DeliveryStatus, utcnow
from app.repositories import deliveries_query, deliveries_replay
from app.repositories.deliveries_query import DeliveryFilter
from app.repositories.deliveries_replay import DISCARDABLE, REPLAYABLE
from app.services import audit
from app.services.operator_errors import Conflict, Invalid, NotFound

log = get_logger(__name__)
BULK_CHUNK_MAX = 500


def _snapshot(delivery: Delivery) -> dict[str, Any]:
    return {
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_error_code": delivery.last_error_code,
        "connection_id": delivery.connection_id,
        "operation": delivery.operation,
    }


async def _locked(session: AsyncSession, delivery_id: int) -> Delivery:
    delivery = await deliveries_replay.lock(session, delivery_id)
    if delivery is None:
        raise NotFound("DELIVERY_NOT_FOUND", f"no delivery with id {delivery_id}")
    return delivery


async def replay(session: AsyncSession, delivery_id: int, *, actor: str) -> Delivery:
    delivery = await _locked(session, delivery_id)
    if delivery.status not in REPLAYABLE:
        raise Conflict(
            "DELIVERY_NOT_REPLAYABLE",
            f"delivery {delivery_id} is {delivery.status}; only {', '.join(REPLAYABLE)} deliveries can be replayed",
        )
    before = _snapshot(delivery)
    deliveries_replay.make_pending(delivery, utcnow())
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="delivery.replay",
        resource_type="delivery",
        resource_id=str(delivery_id),
        before=before,
        after=_snapshot(delivery),
    )
    log.info("delivery_replayed", delivery_id=delivery_id, previous_status=before["status"])
    return delivery


async def discard(session: AsyncSession, delivery_id: int, reason: str, *, actor: str) -> Delivery:
    delivery = await _locked(session, delivery_id)
    if delivery.status not in DISCARDABLE:
        raise Conflict(
            "DELIVERY_NOT_DISCARDABLE",
            f"delivery {delivery_id} is {delivery.status}; only {', '.join(DISCARDABLE)} deliveries can be discarded",
        )
    before = _snapshot(delivery)
    deliveries_replay.make_discarded(delivery, utcnow())
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="delivery.discard",
        resource_type="delivery",
        resource_id=str(delivery_id),
        before=before,
        after={**_snapshot(delivery), "reason": reason},
    )
    log.info("delivery_discarded", delivery_id=delivery_id, previous_status=before["status"])
    return delivery


@dataclass(frozen=True)
class BulkReplay:
    dry_run: bool
    matched: int
    replayed: int
    remaining: int
    up_to_id: int | None
    as_of: datetime
    lanes: tuple[str, ...] = ()


def replay_filter(f: DeliveryFilter) -> DeliveryFilter:
    """Only replayable statuses; dead letters when none is named."""
    bad = [s for s in f.statuses if s not in REPLAYABLE]
    if bad:
        raise Invalid(
            "STATUS_NOT_REPLAYABLE",
            f"only {', '.join(REPLAYABLE)} deliveries can be replayed",
            [("status", f"{s} is not replayable") for s in bad],
        )
    return f if f.statuses else replace(f, statuses=(DeliveryStatus.DEAD,))


async def replay_bulk(
    session: AsyncSession,
    f: DeliveryFilter,
    *,
    dry_run: bool,
    up_to_id: int | None,
    as_of: datetime | None,
    limit: int,
    actor: str,
) -> BulkReplay:
    """Count (dry run) or replay up to ``limit`` of the matching deliveries, oldest first."""
    f = replay_filter(f)
    as_of = as_of or utcnow()
    matched, highest = await deliveries_replay.count_matching(session, f, up_to_id=up_to_id, as_of=as_of)
    pinned = up_to_id if up_to_id is not None else highest
    if dry_run:
        return BulkReplay(True, matched, 0, matched, pinned, as_of)
    chunk = await deliveries_replay.lock_matching(
        session, f, up_to_id=pinned, as_of=as_of, limit=min(limit, BULK_CHUNK_MAX)
    )
    now = utcnow()
    for delivery in chunk:
        deliveries_replay.make_pending(delivery, now)
    await session.flush()
    if chunk:
        await audit.record(
            session,
            actor=actor,
            action="delivery.replay_bulk",
            resource_type="delivery",
            resource_id=None,
            before={"filter": _filter_doc(f), "up_to_id": pinned, "as_of": as_of.isoformat()},
            after={"replayed": len(chunk), "delivery_ids": [d.id for d in chunk]},
        )
    log.info("deliveries_replayed_in_bulk", replayed=len(chunk), matched=matched)
    lanes = tuple(sorted({d.lane for d in chunk}))
    return BulkReplay(False, matched, len(chunk), matched - len(chunk), pinned, as_of, lanes)


def _filter_doc(f: DeliveryFilter) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "status": list(f.statuses),
        "connection_id": f.connection_id,
        "operation": f.operation,
        "direction": f.direction,
        "object": f.source_object,
        "source_id": f.source_id,
        "event_id": f.event_id,
        "created_after": f.created_after.isoformat() if f.created_after else None,
        "created_before": f.created_before.isoformat() if f.created_before else None,
    }
    return {k: v for k, v in doc.items() if v not in (None, [])}


async def get(session: AsyncSession, delivery_id: int) -> Delivery:
    delivery = await deliveries_query.get(session, delivery_id)
    if delivery is None:
        raise NotFound("DELIVERY_NOT_FOUND", f"no delivery with id {delivery_id}")
    return delivery
