"""The delivery engine: drain one lane partition — claim due deliveries, hand them to the lane's handler,
record what happened (status, attempts, links) in a few set-based statements, and schedule retries.

One process drains a partition at a time (a lane lock), so the changes of a record are written in order;
claims carry a lease in the database, so a worker that dies mid-batch is replaced once its lease runs out.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.clients.errors import ClientError
from app.clients.results import CallFact
from app.clients.throttle import ThrottledError, target_for
from app.clients.turns import Batch
from app.context import Resources
from app.domain.lanes import Lane, LaneKind
from app.logging import get_logger
from app.models import DeliveryStatus, utcnow
from app.repositories import connections as connections_repo
from app.repositories import deliveries as deliveries_repo
from app.repositories import inbox as inbox_repo
from app.repositories import links as links_repo
from app.repositories.lanes import lane_lock
from app.repositories.rows import DeliveryRow
from app.services import wakeups
from app.services.delivery.handlers import batch_size, handler_for
from app.services.delivery.outcomes import Outcome
from app.services.delivery.policy import finish_values
from app.services.delivery.work import LaneWork

log = get_logger(__name__)
# How long the next batch of a streaming lane waits for company (an idle lane sends at once), and how
# recently a lane must have sent (in this process) to count as streaming. Only a stream gathers (its last
# batch held several); a trickle, one at a time, is sent at once and arrives within ~250 ms of its webhook.
STREAM_GATHER_SECONDS = 0.25
STREAMING_SECONDS = 1.0
# While a full call's worth of events still waits to be planned (a backlog, an initial load), a batch
# waits up to this long for the planner to fill it: a Vault's burst limit counts calls, not records, and
# the planner fills the partitions of a connection side by side, a few hundred events at a time.
BACKLOG_GATHER_SECONDS = 1.0
# lane -> (when it last sent, in this process; how many that batch held)
_last_sent: dict[str, tuple[float, int]] = {}


@dataclass
class DrainStats:
    batches: int = 0
    deliveries: int = 0


async def drain_lane(resources: Resources, lane: str) -> DrainStats:
    """Send what is due in one lane partition until nothing is. An idle lane sends at once; while a call is
    in flight new work gathers into the next claim, so a backlog leaves in full batches. The other
    partitions of the connection are drained side by side (other jobs), each with its call in flight."""
    stats = DrainStats()
    async with resources.drain_slots:
        return await _drain(resources, lane, stats)


async def _drain(resources: Resources, lane: str, stats: DrainStats) -> DrainStats:
    while True:
        async with lane_lock(resources.engine, lane) as held:
            if not held:
                return stats  # another process drains it, and re-checks after it lets go
            if await _batches(resources, lane, stats, await _call_size(resources, lane)):
                return stats  # paused: its work stays pending, untouched; the lane is woken when it ends
        # Work stored while we were letting go found the lock taken and left it to us: look once more.
        async with resources.sessionmaker() as session:
            if not await deliveries_repo.due_count(session, lane, utcnow()):
                return stats


async def _batches(resources: Resources, lane: str, stats: DrainStats, size: int) -> bool:
    """Batch after batch until none is due; True when the target paused us. Each batch is claimed and
    mapped while the previous one's call is out, and calls once that call is answered (app/clients/
    turns.py): at most two batches of the partition are under way, and one call is in flight."""
    under_way: list[asyncio.Task[bool]] = []
    try:
        paused = await _batch_after_batch(resources, lane, stats, size, under_way)
    except BaseException:  # a failure or a cancellation: no batch may outlive the lane lock
        for task in under_way:
            task.cancel()
        await asyncio.gather(*under_way, return_exceptions=True)
        raise
    for task in under_way:
        await task
    return paused


async def _batch_after_batch(
    resources: Resources, lane: str, stats: DrainStats, size: int, under_way: list[asyncio.Task[bool]]
) -> bool:
    previous: Batch | None = None
    while True:
        if await _paused(resources, lane):
            return True
        sent_at, sent = _last_sent.get(lane, (-STREAMING_SECONDS, 0))
        streaming = time.monotonic() - sent_at < STREAMING_SECONDS
        async with resources.sessionmaker() as session:
            behind = await _planning_behind(session, lane, size)
        if streaming or behind:
            await _gather(resources, lane, size, trickle=streaming and sent <= 1, behind=behind)
        batch = Batch(resources.batch_turn, after=previous)
        task = asyncio.create_task(_one_batch(resources, lane, stats, size, batch))
        under_way.append(task)
        await _called_out_or_done(task, batch)
        if len(under_way) > 1:
            await under_way.pop(0)  # the new batch waits for its calls anyway before calling out
        previous = batch
        if task.done() and not task.result():
            return False


async def _called_out_or_done(task: asyncio.Task[bool], batch: Batch) -> None:
    called = asyncio.ensure_future(batch.called_out.wait())
    try:
        await asyncio.wait((task, called), return_when=asyncio.FIRST_COMPLETED)
    finally:
        called.cancel()


async def _paused(resources: Resources, lane: str) -> bool:
    """Before claiming, ask the gate of the target the lane writes to: a short pause is waited out, a long
    one leaves the work unclaimed (no attempt counted) and wakes the lane when it ends. Calls to other
    targets inside a batch ask their own gates (in the clients)."""
    try:
        await resources.clients.gate.before_call(target_for(Lane.parse(lane).connection_id))
    except ThrottledError as exc:
        wait = max(0.0, (exc.until - utcnow()).total_seconds())
        await wakeups.wake_lanes(resources.queue, [lane], defer_seconds=wait)
        return True
    return False


async def _call_size(resources: Resources, lane: str) -> int:
    async with resources.sessionmaker() as session:
        return batch_size(lane, {c.id: c for c in await connections_repo.list_all(session)})


async def _planning_behind(session: AsyncSession, lane: str, size: int) -> bool:
    """A full call's worth of events that can plan into this lane still waits for the planner: calls
    become Medical Activities, everything else comes from the CTMS."""
    source = "crm" if Lane.parse(lane).kind == LaneKind.MEDICAL else "ctms"
    return await inbox_repo.received_at_least(session, size, source)


async def _gather(resources: Resources, lane: str, size: int, *, trickle: bool, behind: bool) -> None:
    """A lane that is streaming (it just sent a batch) lets the next one fill for a moment, so a fast
    stream of events does not become one API call per event: API calls are what our users pay for. A
    trickle (the last batch held one, and one is due) is sent at once: nothing would join it. While the
    planner is behind by a full call or more, the batch waits longer for it, and stops waiting as soon as
    the planner has caught up."""
    while True:
        async with resources.sessionmaker() as session:
            due, oldest = await deliveries_repo.due_summary(session, lane, utcnow())
            if behind and due < size:  # asked again only while behind: it stops waiting once caught up
                behind = await _planning_behind(session, lane, size)
        if due == 0 or due >= size or oldest is None or (trickle and due == 1):
            return
        patience = BACKLOG_GATHER_SECONDS if behind else STREAM_GATHER_SECONDS
        waited = (utcnow() - oldest).total_seconds()
        if waited >= patience:
            return
        await asyncio.sleep(min(0.05, patience - waited))


async def _one_batch(resources: Resources, lane: str, stats: DrainStats, size: int, batch: Batch) -> bool:
    # The batch takes the process's turn to claim and map, lets go at its first call out, and takes it
    # again to record (app/clients/turns.py): the batches of a process stagger instead of bunching.
    try:
        async with batch.turn():
            work = await _claim(resources, lane, size)
            if work is None:
                return False
            outcomes = await _handle(work)
    finally:
        batch.calls_over.set()  # the next batch may call out (even when this one failed: it is retried)
    async with batch.turn():
        await _record(resources, work.deliveries, outcomes, work.settings.retry_horizon_seconds)
    _last_sent[lane] = (time.monotonic(), len(work.deliveries))
    stats.batches += 1
    stats.deliveries += len(work.deliveries)
    return True


async def _claim(resources: Resources, lane: str, size: int) -> LaneWork | None:
    async with resources.sessionmaker() as session, session.begin():
        every = {c.id: c for c in await connections_repo.list_all(session)}
        batch = await deliveries_repo.claim(
            session, lane, resources.worker_id, utcnow(), resources.settings.lease_seconds, size
        )
        if not batch:
            return None
        events = await deliveries_repo.events_for(session, batch)
        connection_ids = {d.connection_id for d in batch if d.connection_id}
        connections = {i: c for i, c in every.items() if i in connection_ids}
        settings = await connections_repo.global_settings(session)
    return LaneWork(resources, resources.clients, lane, batch, events, connections, settings)


async def _handle(work: LaneWork) -> dict[int, Outcome]:
    try:
        return await handler_for(work.lane)(work)
    except ClientError as exc:  # a read the whole batch depended on failed: the batch shares its fate
        return {d.id: Outcome.from_error(exc) for d in work.deliveries if d.id}
    except Exception as exc:  # a bug must not strand the batch in flight: retry it, and say why
        log.exception("lane_handler_failed", lane=work.lane)
        return {
            d.id: Outcome.again("INTERNAL_ERROR", f"{type(exc).__name__} in the bridge")
            for d in work.deliveries
            if d.id
        }


async def _record(
    resources: Resources, batch: list[DeliveryRow], outcomes: dict[int, Outcome], horizon: float
) -> None:
    """A handful of statements for the whole batch: the outcomes, the links, the attempts."""
    now = utcnow()
    decided: list[tuple[DeliveryRow, Outcome, dict[str, Any]]] = []
    for delivery in batch:
        assert delivery.id is not None
        outcome = outcomes.get(delivery.id) or Outcome.again(
            "NOT_HANDLED", "the lane handler gave no outcome"
        )
        values = finish_values(
            delivery,
            outcome,
            now,
            horizon=horizon,
            base=resources.settings.retry_base_seconds,
            cap=resources.settings.retry_cap_seconds,
        )
        decided.append((delivery, outcome, values))
    async with resources.sessionmaker() as session, session.begin():
        held = await deliveries_repo.finish_many(
            session, resources.worker_id, now, [v for _, _, v in decided]
        )
        # a delivery whose lease ran out was taken over by another worker: its outcome is that worker's
        kept = [(d, o, v) for d, o, v in decided if d.id in held]
        await links_repo.save_many(session, [o.link for _, o, _ in kept if o.link is not None])
        await deliveries_repo.add_attempts(session, [_attempt(d, o, now) for d, o, _ in kept if o.is_attempt])
        succeeded = [d.source_id for d, _, v in kept if v["status"] in _SUCCEEDED]
        await deliveries_repo.close_superseded(session, batch[0].lane, succeeded, now)
    retry_at: list[float] = []
    for delivery, outcome, values in kept:
        _count(delivery, str(values["status"]), outcome)
        if values["next_attempt_at"] is not None:
            retry_at.append((values["next_attempt_at"] - now).total_seconds())
        if values["status"] != DeliveryStatus.DELIVERED:
            log.info(
                "delivery_not_delivered",
                delivery_id=delivery.id,
                lane=delivery.lane,
                status=str(values["status"]),
                code=outcome.error_code,
                attempt=delivery.attempts,
            )
    if retry_at:
        await wakeups.wake_lanes(resources.queue, [batch[0].lane], defer_seconds=min(retry_at))


_SUCCEEDED = (DeliveryStatus.DELIVERED, DeliveryStatus.UNCHANGED)
NOT_SENT = "bridge (nothing sent)"  # the attempt's target when the bridge failed it before any call


def _attempt(delivery: DeliveryRow, outcome: Outcome, now: datetime) -> dict[str, Any]:
    assert delivery.id is not None
    call = outcome.call
    if call is None:  # failed before anything was sent: the history still says why
        call = CallFact(NOT_SENT, delivery.operation, None, 0, (outcome.error or "")[:500] or None)
    return {
        "delivery_id": delivery.id,
        "number": delivery.attempts,
        "started_at": now,
        "duration_ms": call.duration_ms,
        "target": call.target or delivery.lane,
        "operation": call.operation or delivery.operation,
        "outcome": outcome.attempt_outcome,
        "http_status": call.http_status,
        "error_code": outcome.error_code,
        "response_excerpt": call.excerpt,
    }


def _count(delivery: DeliveryRow, status: str, outcome: Outcome) -> None:
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
