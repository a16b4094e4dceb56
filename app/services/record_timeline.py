"""A record's whole path, for an operator who asks "where did this record go, and why not?".

Given any id (a CTMS record, a CRM call, or the id a target gave our write), gather the links that
connect it to its counterpart, every event that named either end, every delivery for either end and
every attempt with the target's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.schedule import next_fire
from app.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EventStatus,
    InboxEvent,
    RecordLink,
    TransferRun,
)
from app.repositories import deliveries_query, record_history, transfer_runs_query


@dataclass
class DeliveryPath:
    delivery: Delivery
    attempts: list[DeliveryAttempt]


@dataclass
class EventPath:
    event: InboxEvent
    deliveries: list[DeliveryPath] = field(default_factory=list)


@dataclass
class Timeline:
    searched: str
    ids: list[str]  # the searched id and its counterparts
    links: list[RecordLink]
    events: list[EventPath]
    other_deliveries: list[DeliveryPath]  # planned by the Transfer job, or whose event is gone

    @property
    def empty(self) -> bool:
        return not (self.links or self.events or self.other_deliveries)

    @property
    def all_deliveries(self) -> list[DeliveryPath]:
        return [d for e in self.events for d in e.deliveries] + self.other_deliveries


async def timeline(session: AsyncSession, record_id: str) -> Timeline:
    record_id = record_id.strip()
    links = await record_history.links_touching(session, [record_id])
    ids = [record_id]
    for link in links:
        for other in (link.source_id, link.target_id):
            if other and other not in ids:
                ids.append(other)
    events = await record_history.events_naming(session, ids)
    deliveries = await record_history.deliveries_touching(session, ids)
    attempts = await deliveries_query.attempts_of(session, [d.id for d in deliveries if d.id is not None])
    by_event = {e.id: EventPath(e) for e in events}
    others: list[DeliveryPath] = []
    for d in deliveries:
        path = DeliveryPath(d, attempts.get(d.id or 0, []))
        owner = by_event.get(d.event_id) if d.event_id is not None else None
        (owner.deliveries if owner is not None else others).append(path)
    return Timeline(record_id, ids, links, list(by_event.values()), others)


@dataclass
class TransferSchedule:
    last_run: TransferRun | None
    next_run_at: datetime  # the periodic run's next mark (a run already in progress may still be going)


@dataclass
class Trace:
    timeline: Timeline
    transfer: TransferSchedule
    findings: list[str]  # what an operator should read first, in plain words


async def trace(session: AsyncSession, record_id: str, *, transfer_interval: float, now: datetime) -> Trace:
    """The timeline, the Transfer job's last and next run (which catches up a lost webhook), and what
    it all says."""
    found = await timeline(session, record_id)
    last = await transfer_runs_query.page(session, status=None, trigger=None, before_id=None, limit=1)
    schedule = TransferSchedule(last[0] if last else None, next_fire(transfer_interval, now))
    return Trace(found, schedule, _findings(found, schedule))


_STATE: dict[str, str] = {  # the latest delivery per connection and operation, as a sentence
    DeliveryStatus.DELIVERED: "was delivered as {target}",
    DeliveryStatus.UNCHANGED: "sent nothing: the target already held this content",
    DeliveryStatus.STALE: "sent nothing: the target already had a newer change",
    DeliveryStatus.PENDING: "is due at {next}",
    DeliveryStatus.IN_FLIGHT: "is being sent by a worker",
    DeliveryStatus.AWAITING_TRANSFER: "waits for the next Transfer run",
    DeliveryStatus.UNMATCHED: "waits for its person's CRM account (retried by each Transfer run)",
    DeliveryStatus.DEAD: "is a dead letter ({code}): fix the cause, then replay it",
    DeliveryStatus.DISCARDED: "was discarded by an operator",
    DeliveryStatus.SUPERSEDED: "failed, then a later delivery of the same record succeeded",
}


def _findings(found: Timeline, schedule: TransferSchedule) -> list[str]:
    next_run = schedule.next_run_at.isoformat(timespec="seconds")
    if found.empty:
        return [
            f"Nothing about {found.searched} has reached the bridge. If it was changed in the source, a "
            f"lost webhook is caught up by the next Transfer run (scheduled {next_run}), which reads every "
            "change made since the previous run."
        ]
    notes: list[str] = []
    for path in found.events:
        e = path.event
        if e.status == EventStatus.IGNORED:
            notes.append(
                f"Event {e.id} ({e.type}) was ignored: {e.error or e.error_code or 'nothing to do'}."
            )
        elif e.status == EventStatus.FAILED:
            notes.append(f"Event {e.id} ({e.type}) could not be planned ({e.error_code}).")
        elif e.status == EventStatus.RECEIVED:
            notes.append(f"Event {e.id} ({e.type}) is stored and waits to be planned.")
    latest: dict[tuple[str | None, str], Delivery] = {}
    for path_ in found.all_deliveries:
        d = path_.delivery
        key = (d.connection_id, d.operation)
        if d.id is not None and (key not in latest or (latest[key].id or 0) < d.id):
            latest[key] = d
    for d in sorted(latest.values(), key=lambda d: d.id or 0):
        where = f" to {d.connection_id}" if d.connection_id else ""
        state = _STATE.get(d.status, "is {status}")
        said = state.format(
            status=d.status,
            next=d.next_attempt_at.isoformat(timespec="seconds"),
            code=d.last_error_code,
            target=f"{d.target_object} {d.target_id}" if d.target_id else d.target_object,
        )
        notes.append(f"Delivery {d.id} ({d.operation}{where}) {said}.")
    return notes
