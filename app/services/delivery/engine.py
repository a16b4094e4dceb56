"""The delivery engine: drain one lane — claim due deliveries, hand them to the lane's handler, record
what happened (status, attempts, links) and schedule retries.

One process drains a lane at a time (a lane lock), so records of one lane are written in order; claims
carry a lease in the database, so a worker that dies mid-batch is replaced once its lease runs out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from app import metrics
from app.clients.errors import ClientError
from app.context import Resources
from app.logging import get_logger
from app.models import Delivery, DeliveryAttempt, DeliveryStatus, utcnow
from app.repositories import connections as connections_repo
from app.repositories import deliveries as deliveries_repo
from app.repositories import links as links_repo
from app.repositories.lanes import lane_lock
from app.services import wakeups
from app.services.delivery.handlers import batch_size, handler_for
from app.services.delivery.outcomes import Outcome
from app.services.delivery.policy import backoff_seconds
from app.services.delivery.work import LaneWork

log = get_logger(__name__)
# A batch waits for company until it is full or its oldest delivery is this old: under a stream of events
# calls carry full batches, and at light load a single event still leaves within about a second.
LINGER_SECONDS = 0.75


@dataclass
class DrainStats:
    batches: int = 0
    deliveries: int = 0


async def drain_lane(resources: Resources, lane: str) -> DrainStats:
    stats = DrainStats()
    while True:
        async with lane_lock(resources.engine, lane) as held:
            if not held:
                return stats  # another process drains it, and re-checks after it lets go
            while True:
                await _linger(resources, lane)
                if not await _one_batch(resources, lane, stats):
                    break
        # Work stored while we were letting go found the lock taken and left it to us: look once more.
        async with resources.sessionmaker() as session:
            if not await deliveries_repo.due_count(session, lane, utcnow()):
                return stats


async def _linger(resources: Resources, lane: str) -> None:
    while True:
        async with resources.sessionmaker() as session:
            due, oldest = await deliveries_repo.due_summary(session, lane, utcnow())
        if due == 0 or due >= batch_size(lane) or oldest is None:
            return
        waited = (utcnow() - oldest).total_seconds()
        if waited >= LINGER_SECONDS:
            return
        await asyncio.sleep(min(0.1, LINGER_SECONDS - waited))


async def _one_batch(resources: Resources, lane: str, stats: DrainStats) -> bool:
    owner = resources.worker_id
    async with resources.sessionmaker() as session, session.begin():
        batch = await deliveries_repo.claim(
            session, lane, owner, utcnow(), resources.settings.lease_seconds, batch_size(lane)
        )
        if not batch:
            return False
        events = await deliveries_repo.events_for(session, batch)
        connection_ids = {d.connection_id for d in batch if d.connection_id}
        connections = {c.id: c for c in await connections_repo.list_all(session) if c.id in connection_ids}
        settings = await connections_repo.global_settings(session)
    work = LaneWork(resources, resources.clients, lane, batch, events, connections, settings)
    try:
        outcomes = await handler_for(lane)(work)
    except ClientError as exc:  # a read the whole batch depended on failed: the batch shares its fate
        outcomes = {d.id: Outcome.from_error(exc) for d in batch if d.id}
    except Exception as exc:  # a bug must not strand the batch in flight: retry it, and say why
        log.exception("lane_handler_failed", lane=lane)
        outcomes = {
            d.id: Outcome.again("INTERNAL_ERROR", f"{type(exc).__name__} in the bridge")
            for d in batch
            if d.id
        }
    await _record(resources, batch, outcomes, settings.max_attempts)
    stats.batches += 1
    stats.deliveries += len(batch)
    return True


async def _record(
    resources: Resources, batch: list[Delivery], outcomes: dict[int, Outcome], max_attempts: int
) -> None:
    now = utcnow()
    retry_at: list[float] = []
    async with resources.sessionmaker() as session, session.begin():
        attempts: list[DeliveryAttempt] = []
        for delivery in batch:
            assert delivery.id is not None
            outcome = outcomes.get(delivery.id) or Outcome.again(
                "NOT_HANDLED", "the lane handler gave no outcome"
            )
            values: dict[str, object] = {
                "status": outcome.status,
                "last_error_code": outcome.error_code,
                "last_error": outcome.error,
                "updated_at": now,
            }
            if outcome.target_object:
                values["target_object"] = outcome.target_object
            if outcome.target_id:
                values["target_id"] = outcome.target_id
            if outcome.status == DeliveryStatus.DELIVERED:
                values["payload"] = {**delivery.payload, "created": outcome.created}
            if outcome.retry:
                if delivery.attempts >= max_attempts:
                    values["status"] = DeliveryStatus.DEAD
                    values["last_error"] = f"gave up after {delivery.attempts} attempts: {outcome.error}"
                else:
                    delay = backoff_seconds(
                        delivery.attempts,
                        outcome.retry_after,
                        base=resources.settings.retry_base_seconds,
                        cap=resources.settings.retry_cap_seconds,
                    )
                    values["next_attempt_at"] = now + timedelta(seconds=delay)
                    retry_at.append(delay)
            if values["status"] not in (DeliveryStatus.PENDING, DeliveryStatus.UNMATCHED):
                values["finished_at"] = now
            if not await deliveries_repo.finish(session, delivery.id, resources.worker_id, values):
                continue  # our lease ran out and another worker took this delivery over
            if outcome.link is not None:
                await links_repo.save(session, outcome.link)
            if outcome.call is not None:
                attempts.append(_attempt(delivery, outcome))
            _count(delivery, str(values["status"]), outcome)
            if values["status"] != DeliveryStatus.DELIVERED:
                log.info(
                    "delivery_not_delivered",
                    delivery_id=delivery.id,
                    lane=delivery.lane,
                    status=str(values["status"]),
                    code=outcome.error_code,
                    attempt=delivery.attempts,
                )
        deliveries_repo.add_attempts(session, attempts)
    if retry_at:
        await wakeups.wake_lanes(resources.queue, [batch[0].lane], defer_seconds=min(retry_at))


def _attempt(delivery: Delivery, outcome: Outcome) -> DeliveryAttempt:
    call = outcome.call
    assert call is not None
    assert delivery.id is not None
    return DeliveryAttempt(
        delivery_id=delivery.id,
        number=delivery.attempts,
        duration_ms=call.duration_ms,
        target=call.target or delivery.lane,
        operation=call.operation or delivery.operation,
        outcome=outcome.attempt_outcome,
        http_status=call.http_status,
        error_code=outcome.error_code,
        response_excerpt=call.excerpt,
    )


def _count(delivery: Delivery, status: str, outcome: Outcome) -> None:
    metrics.DELIVERIES.labels(delivery.direction, status).inc()
    if outcome.call is not None:
        metrics.ATTEMPTS.labels(outcome.call.target or delivery.lane, outcome.attempt_outcome).inc()
    if status in (
        DeliveryStatus.DELIVERED,
        DeliveryStatus.UNCHANGED,
        DeliveryStatus.STALE,
        DeliveryStatus.DEAD,
    ):
        metrics.QUEUE_LAG.observe((utcnow() - delivery.created_at).total_seconds())
