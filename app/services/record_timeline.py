"""A record's whole path, for an operator who asks "where did this record go, and why not?".

Given any id (a CTMS record, a CRM call, or the id a target gave our write), gather the links that
connect it to its counterpart, every event that named either end, every delivery for either end and
every attempt with the target's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Delivery, DeliveryAttempt, InboxEvent, RecordLink
from app.repositories import deliveries_query, record_history


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
