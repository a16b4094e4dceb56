"""What a repair would write, exactly, for the records whose write cannot be known from the last one (their
source changed since the bridge wrote them, or was never written): the repair's own events are planned
and handed to the lanes' handlers as a worker would, with every write captured instead of sent, inside
one database transaction that is rolled back. The reads (source records, accounts, parents) are real;
nothing changes anywhere, in the bridge's database or in any system."""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select

from app.clients.errors import ClientError
from app.clients.results import CallFact, RecordResult, WriteResult
from app.context import Resources
from app.domain.lanes import Lane, LaneKind
from app.logging import get_logger
from app.models import Delivery, Drift, utcnow
from app.repositories import connections as connections_repo
from app.repositories import inbox as inbox_repo
from app.repositories import links as links_repo
from app.repositories import reconciliations as repo
from app.repositories.rows import DeliveryRow, EventRow
from app.services import planning
from app.services.delivery.automation import CTMS_LINKS
from app.services.delivery.handlers import handler_for
from app.services.delivery.outcomes import Outcome
from app.services.delivery.work import LaneWork
from app.services.reconciliation.repair import RepairPlan, resend_event
from app.services.transfer.feed import feed_many

log = get_logger(__name__)


@dataclass
class Write:
    target: str
    object: str
    id_field: str
    fields: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.fields.get(self.id_field, ""))

    def shown(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "object": self.object,
            "id_field": self.id_field,
            "fields": self.fields,
        }


@dataclass
class Preview:
    """Per drift: what delivery would decide, and the writes it would make (parents created first too)."""

    status: str
    code: str | None = None
    message: str | None = None
    fields: dict[str, Any] | None = None  # the drift's own record, as it would be written
    first: list[dict[str, Any]] = field(default_factory=list)  # parents written before it
    then: list[dict[str, Any]] = field(default_factory=list)  # written after it, for the same source

    def shown(self) -> dict[str, Any]:
        out: dict[str, Any] = {"would_be": self.status, "fields": self.fields}
        if self.code:
            out |= {"code": self.code, "message": self.message}
        if self.first:
            out["first_writes"] = self.first
        if self.then:
            out["then_writes"] = self.then
        return out


# A dry run reads and maps this many re-sends at most (the rest say they are read at delivery): it holds
# one transaction, and the links it looks at, while it reads from the systems.
PREVIEW_LIMIT = 1000
# as a worker drains them: a study or site re-sent is written (and linked) before the activities citing it
_PARENTS_FIRST = [LaneKind.STUDY, LaneKind.SITE, LaneKind.INTERACTION, LaneKind.MEDICAL, LaneKind.AUTOMATION]


def placeholder(object_name: str, key: str) -> str:
    """The id a captured write answers with: a record created by the dry run has none yet."""
    return f"(dry run: {object_name} {key})"


class _Capture:
    def __init__(self) -> None:
        self.writes: list[Write] = []

    def answer(
        self, target: str, object_name: str, id_field: str, records: list[dict[str, Any]]
    ) -> WriteResult:
        for record in records:
            self.writes.append(Write(target, object_name, id_field, dict(record)))
        results = [
            RecordResult(ok=True, id=placeholder(object_name, str(r.get(id_field, "")))) for r in records
        ]
        return WriteResult(results, CallFact(target, "dry run (not sent)", None, 0))


class _DryClients:
    """The real clients, each copied with its writes captured; reads go to the real systems."""

    def __init__(self, real: Any, capture: _Capture) -> None:
        self._real, self._capture = real, capture
        self._crm: dict[str, Any] = {}
        self._ctms: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def ctms(self) -> Any:
        if self._ctms is None:
            client = copy.copy(self._real.ctms())
            capture = self._capture

            async def upsert(object_name: str, records: list[dict[str, Any]], id_param: str) -> WriteResult:
                return capture.answer(client.target, object_name, id_param, records)

            async def update(object_name: str, records: list[dict[str, Any]]) -> WriteResult:
                return capture.answer(client.target, object_name, "id", records)

            client.upsert, client.update = upsert, update
            self._ctms = client
        return self._ctms

    def crm(self, connection: Any) -> Any:
        if connection.id not in self._crm:
            gateway = copy.copy(self._real.crm(connection))
            capture = self._capture

            async def upsert(object_name: str, id_field: str, records: list[dict[str, Any]]) -> WriteResult:
                return capture.answer(gateway.target, object_name, id_field, records)

            gateway.upsert = upsert
            self._crm[connection.id] = gateway
        return self._crm[connection.id]


PREVIEWED = "the source's current version, read now and mapped by delivery's own rules (nothing sent)"


async def with_previews(resources: Resources, run_id: int, plan: RepairPlan) -> RepairPlan:
    """A dry run's plan with the writes of the re-sends whose fields it could not know, read now. Run it
    outside the transaction that made the plan: it takes its own connection, and must not wait on that
    transaction's locks."""
    unknown = {
        int(a["drift_id"]) for a in plan.actions if a["action"] == "resend" and a.get("fields") is None
    }
    if not unknown:
        return plan
    async with resources.sessionmaker() as session:
        drifts = [d for d in await repo.drifts(session, run_id) if d.id in unknown]
    previews = await preview_resends(resources, drifts)
    for action in plan.actions:
        if (shown := previews.get(int(action["drift_id"]))) is not None:
            action.update(shown, writes=PREVIEWED)
    return plan


async def preview_resends(resources: Resources, drifts: list[Drift]) -> dict[int, dict[str, Any]]:
    """Per drift id: the delivery its re-send would make, decided by the lane's own handler, not sent:
    what delivery would decide (`would_be`, and `code`/`message` when it is not a write), the fields of the
    record as written, and the parents written first."""
    drifts = drifts[:PREVIEW_LIMIT]
    if not drifts:
        return {}
    async with resources.engine.connect() as conn:
        outer = await conn.begin()
        try:
            sessions = async_sessionmaker(
                bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            dry = replace(resources, sessionmaker=sessions)
            previews = await _preview(dry, drifts)
        finally:
            await outer.rollback()
    return {drift_id: p.shown() for drift_id, p in previews.items()}


async def _preview(resources: Resources, drifts: list[Drift]) -> dict[int, Preview]:
    stamp, now = uuid.uuid4().hex[:12], utcnow()
    async with resources.sessionmaker() as session, session.begin():
        forget: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        for drift in drifts:
            forget[(drift.connection_id, drift.source_system)].append((drift.source_object, drift.source_id))
        for (conn_id, system), pairs in forget.items():
            await repo.forget_content(session, conn_id, system, pairs)
        stored = await feed_many(session, [resend_event(f"preview:{stamp}:{x.id}", x, now) for x in drifts])
        drift_of_event = {event_id: x for (event_id, _), x in zip(stored, drifts, strict=True)}
        events = await inbox_repo.get_many(session, list(drift_of_event))
        await planning.plan_events(session, events, resources.settings.connection_concurrency)
        rows = await session.execute(select(Delivery).where(col(Delivery.event_id).in_(list(drift_of_event))))
        deliveries = [
            d
            for d in rows.scalars()
            if d.event_id is not None
            and (d.connection_id or CTMS_LINKS) == drift_of_event[d.event_id].connection_id
        ]
        connections = {c.id: c for c in await connections_repo.list_all(session)}
        settings = await connections_repo.global_settings(session)
    by_event = {int(e.id or 0): EventRow.of(e) for e in events}
    by_lane: dict[str, list[DeliveryRow]] = defaultdict(list)
    for planned in deliveries:
        by_lane[planned.lane].append(DeliveryRow.of(planned))
    previews: dict[int, Preview] = {}
    for lane in sorted(by_lane, key=lambda key: _PARENTS_FIRST.index(Lane.parse(key).kind)):
        batch = by_lane[lane]
        capture = _Capture()
        clients = _DryClients(resources.clients, capture)
        work = LaneWork(resources, clients, lane, batch, by_event, connections, settings)  # type: ignore[arg-type]
        try:
            outcomes = await handler_for(lane)(work)
        except ClientError as exc:  # a read the batch needed failed: so would the delivery, for now
            outcomes = {int(d.id or 0): Outcome.from_error(exc) for d in batch}
        except Exception as exc:  # a dry run reports a bug in a handler, it does not fail the request
            log.exception("repair_preview_failed", lane=lane)
            outcomes = {
                int(d.id or 0): Outcome.again("INTERNAL_ERROR", f"{type(exc).__name__} in the bridge")
                for d in batch
            }
        async with resources.sessionmaker() as session, session.begin():  # as the engine records them
            await links_repo.save_many(session, [o.link for o in outcomes.values() if o.link is not None])
        for d in batch:
            drift = drift_of_event[int(d.event_id or 0)]
            outcome = outcomes.get(int(d.id or 0))
            previews[int(drift.id or 0)] = _shown(drift, d, outcome, capture.writes)
    return previews


def _shown(drift: Drift, delivery: DeliveryRow, outcome: Any, writes: list[Write]) -> Preview:
    if outcome is None:
        return Preview("not_handled")
    own_keys = {drift.source_id, f"{drift.connection_id}:{drift.source_id}"}
    own = [w for w in writes if w.key in own_keys]
    if not own:
        return Preview(str(outcome.status), outcome.error_code, outcome.error)
    mine = next((w for w in own if w.object == drift.target_object), own[-1])
    refs = {str(v) for v in mine.fields.values()}
    first = [w.shown() for w in writes if w.key not in own_keys and placeholder(w.object, w.key) in refs]
    also = [w.shown() for w in own if w is not mine]  # F8: the source's flag cleared after its activity
    return Preview(str(outcome.status), outcome.error_code, outcome.error, mine.fields, first, also)
