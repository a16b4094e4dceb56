"""Planning: turn stored inbox events into deliveries, one per target connection and record (fan-out).

Planning does no I/O beyond our database: thin events are read from the vault later, in batches, by the
delivery engine. Which connections get what follows SPEC.md section 2.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.lanes import Lane, LaneKind
from app.domain.mapping.echo import is_crm_echo, is_crm_record_echo, is_ctms_echo
from app.logging import get_logger
from app.models import (
    AccountMatch,
    Connection,
    DeliveryStatus,
    EventStatus,
    GlobalSettings,
    InboxEvent,
)
from app.models import Operation as Op
from app.repositories import connections as connections_repo
from app.repositories import deliveries as deliveries_repo
from app.repositories import inbox
from app.services.names import crm_names_for, ctms_names_for
from app.services.transfer.feed import CATCH_UP_PREFIX

log = get_logger(__name__)
ACTIVITY = "crm_activity__v"
STUDY = "study__v"
SITE = "site__v"
PERSON = "person__sys"
MONITORING_EVENT = "monitoring_event__v"
COMMUNICATION_LOG = "study_communication_log__ctms"


@dataclass(slots=True)
class PlannedDelivery:
    """A delivery the planner decided on, as the row to insert. A plain object, not an ORM `Delivery`
    (building one of those costs ~0.17 ms, more than the rest of planning an event); the columns left
    out (attempts, next_attempt_at, created_at, …) take their defaults in the INSERT."""

    event_id: int | None
    connection_id: str | None
    direction: str
    operation: str
    lane: str
    source_object: str
    source_id: str
    source_modified_at: datetime | None
    status: str = DeliveryStatus.PENDING
    payload: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _PLANNED_COLUMNS}


_PLANNED_COLUMNS = tuple(PlannedDelivery.__dataclass_fields__)


@dataclass
class PlanResult:
    events: int = 0
    deliveries: int = 0
    lanes: set[str] = field(default_factory=set)


def _is_ctms_echo(event: InboxEvent, settings: GlobalSettings, connection_ids: Collection[str] = ()) -> bool:
    """F9: a Medical Activity change is our own write coming back. Judged here, without I/O, when the
    record names its type (``object_type__v`` as a name, or ``object_type__vr.api_name__v`` as catch-up
    and thin reads ask for it) or its external id is ``{connection}:{call}``; a type given only by id
    (what a real vault sends) is planned, and the delivery engine, which reads the vault's types, marks
    it ``unchanged`` as the echo it is."""
    record = event.payload.get("data", {}).get("record")
    return (
        isinstance(record, dict)
        and event.object is not None
        and is_ctms_echo(event.object, record, ctms_names_for(settings), connection_ids=connection_ids)
    )


def _delivery(
    event: InboxEvent,
    connection_id: str | None,
    direction: str,
    op: Op,
    kind: LaneKind,
    partitions: int,
    status: str = DeliveryStatus.PENDING,
) -> PlannedDelivery:
    # the medical lane takes every connection's calls: a record is a (connection, call) pair there
    record_key = f"{connection_id}:{event.record_id}" if kind.writes_to_ctms else str(event.record_id)
    return PlannedDelivery(
        event_id=event.id,
        connection_id=connection_id,
        direction=direction,
        operation=op,
        lane=Lane.for_record(kind, connection_id, record_key, partitions).key,
        source_object=event.object or "",
        source_id=event.record_id or "",
        source_modified_at=event.source_modified_at,
        status=status,
    )


def ctms_role(obj: str | None, settings: GlobalSettings) -> str | None:
    """Which CTMS object an event is about, by the name the planner uses (the default name), whatever the
    vault calls it (settings: ctms_names); None for an object the bridge does not know."""
    names = ctms_names_for(settings)
    return {
        names.activity.object: ACTIVITY,
        names.study.object: STUDY,
        names.site.object: SITE,
        names.person.object: PERSON,
        names.monitoring_event.object: MONITORING_EVENT,
        names.communication_log.object: COMMUNICATION_LOG,
    }.get(obj or "")


def plan_ctms(
    event: InboxEvent, active: list[Connection], settings: GlobalSettings, partitions: int = 1
) -> list[PlannedDelivery]:
    deleted = event.type == "ctms.record.deleted"
    obj = ctms_role(event.object, settings)
    if obj == ACTIVITY:
        op = Op.DELETE_INTERACTION if deleted else Op.UPSERT_INTERACTION
        return [_delivery(event, c.id, "ctms_to_crm", op, LaneKind.INTERACTION, partitions) for c in active]
    if obj in (STUDY, SITE):
        kind = LaneKind.STUDY if obj == STUDY else LaneKind.SITE
        op = {
            (STUDY, False): Op.UPSERT_STUDY,
            (STUDY, True): Op.DELETE_STUDY,
            (SITE, False): Op.UPSERT_SITE,
            (SITE, True): Op.DELETE_SITE,
        }[(obj, deleted)]
        return [
            _delivery(event, c.id, "ctms_to_crm", op, kind, partitions)
            for c in active
            if c.sync_studies_and_sites
        ]
    automated = (obj == MONITORING_EVENT and settings.automate_monitoring_events) or (
        obj == COMMUNICATION_LOG and settings.automate_communication_log_items
    )
    if automated and not deleted:
        return [_delivery(event, None, "ctms_to_ctms", Op.AUTOMATE_ACTIVITY, LaneKind.AUTOMATION, partitions)]
    return []


def plan_crm(event: InboxEvent, connection: Connection | None, partitions: int = 1) -> list[PlannedDelivery]:
    if connection is None or event.connection_id is None:
        return []  # the connection was deleted after the event was accepted
    deliveries = _plan_crm(event, connection, partitions)
    call_object = crm_names_for(connection).call.object
    for d in deliveries:  # one name for the call object, whatever the event said (deletions say none)
        d.source_object = call_object
    return deliveries


def _plan_crm(event: InboxEvent, connection: Connection, partitions: int) -> list[PlannedDelivery]:
    if event.type == "crm.call.deleted":
        # F4: applied when the Transfer job next runs, as the product has always done; a deletion the run
        # itself found (no push: poll only, or Outbound Messages, which announce none) is that run's to apply
        found_by_run = event.webhook_id.startswith(CATCH_UP_PREFIX)
        return [
            _delivery(
                event,
                connection.id,
                "crm_to_ctms",
                Op.INACTIVATE_MEDICAL_ACTIVITY,
                LaneKind.MEDICAL,
                partitions,
                status=DeliveryStatus.PENDING if found_by_run else DeliveryStatus.AWAITING_TRANSFER,
            )
        ]
    return [
        _delivery(
            event, connection.id, "crm_to_ctms", Op.UPSERT_MEDICAL_ACTIVITY, LaneKind.MEDICAL, partitions
        )
    ]


def _is_crm_echo(event: InboxEvent, by_id: dict[str, Connection]) -> bool:
    """F9: events about the objects the bridge writes in a CRM (Vault Clinical Interactions, Clinical
    Studies and Sites) are its own writes coming back: named by the event, or known by their fields."""
    connection = by_id.get(event.connection_id or "")
    if connection is None:
        return False  # planned as nothing anyway: its connection is gone
    names = crm_names_for(connection)
    if is_crm_echo(event.object, names):
        return True
    data = event.payload.get("data") if isinstance(event.payload, dict) else None
    record = data.get("record") if isinstance(data, dict) else None
    return isinstance(record, dict) and is_crm_record_echo(record, names)


async def _forget_person_matches(session: AsyncSession, person_id: str) -> None:
    """A changed person may carry a new identifier: its cached account matches no longer hold."""
    await session.execute(delete(AccountMatch).where(col(AccountMatch.person_id) == person_id))


async def plan_pending(session: AsyncSession, limit: int = 500, partitions: int = 1) -> PlanResult:
    """Claim a batch of received events and plan them in a handful of statements: one INSERT of every
    delivery, one DELETE of stale account matches, one UPDATE per resulting event status. Only when the
    batch statement fails is it redone event by event, so one bad event still cannot block the rest.
    The caller commits, then wakes the lanes."""
    return await plan_events(session, await inbox.claim_received(session, limit), partitions)


async def plan_events(session: AsyncSession, events: list[InboxEvent], partitions: int = 1) -> PlanResult:
    """Plan these events (claimed by the caller, or made for a dry run that rolls back)."""
    result = PlanResult(events=len(events))
    if not events:
        return result
    active = await connections_repo.list_active(session)
    by_id = {c.id: c for c in active}
    settings = await connections_repo.global_settings(session)
    planned: dict[int, list[PlannedDelivery]] = {}
    failed: list[int] = []
    for event in events:
        assert event.id is not None
        try:
            planned[event.id] = _deliveries_for(event, active, by_id, settings, partitions)
        except Exception:
            log.exception("event_planning_failed", event_id=event.id)
            failed.append(event.id)
    persons = sorted(
        {
            e.record_id
            for e in events
            if e.source == "ctms" and ctms_role(e.object, settings) == PERSON and e.record_id
        }
    )
    try:
        async with session.begin_nested():
            if persons:
                await session.execute(delete(AccountMatch).where(col(AccountMatch.person_id).in_(persons)))
            await deliveries_repo.add_many(session, [d.row() for ds in planned.values() for d in ds])
    except Exception:
        log.exception("batch_planning_failed", events=len(events))
        return await _plan_one_by_one(session, events, active, by_id, settings, partitions)
    for deliveries in planned.values():
        result.deliveries += len(deliveries)
        result.lanes.update(d.lane for d in deliveries if d.status == DeliveryStatus.PENDING)
    await inbox.mark_many(session, [i for i, ds in planned.items() if ds], EventStatus.PROCESSED)
    by_reason: dict[tuple[str, str], list[int]] = {}
    for event in events:
        if event.id in planned and not planned[event.id]:
            by_reason.setdefault(ignore_reason(event, active, by_id, settings), []).append(event.id)
    for (code, why), ids in by_reason.items():  # a handful of reasons: one UPDATE each
        await inbox.mark_many(session, ids, EventStatus.IGNORED, code, why)
    await inbox.mark_many(session, failed, EventStatus.FAILED, "PLANNING_FAILED", _FAILED)
    return result


_FAILED = "the bridge could not plan this event"


def ignore_reason(
    event: InboxEvent, active: list[Connection], by_id: dict[str, Connection], settings: GlobalSettings
) -> tuple[str, str]:
    """Why an event planned no delivery, as (code, message) for operators: the branches of
    `_deliveries_for` that end in nothing, named."""
    if event.source == "ctms":
        if _is_ctms_echo(event, settings, by_id):
            return "ECHO_OF_OWN_WRITE", "a Medical Activity change: the bridge's own write coming back (F9)"
        obj = ctms_role(event.object, settings)
        if obj in (ACTIVITY, STUDY, SITE) and not active:
            return "NO_ACTIVE_CONNECTION", "no CRM connection is active"
        if obj in (STUDY, SITE):
            return "STUDIES_SITES_NOT_SYNCED", "no active connection syncs studies and sites"
        switches = {
            MONITORING_EVENT: "automate_monitoring_events",
            COMMUNICATION_LOG: "automate_communication_log_items",
        }
        if obj in switches:
            if event.type == "ctms.record.deleted":
                return "DELETION_NOT_AUTOMATED", f"a deleted {obj} creates no activity"
            return "AUTOMATION_OFF", f"creating activities from {obj} is off (setting {switches[obj]})"
        if obj == PERSON:
            return "OBJECT_NOT_SYNCED", "a person's change only refreshes its cached account matches"
        return "OBJECT_NOT_SYNCED", f"the bridge does not act on {event.object or 'this object'}"
    if _is_crm_echo(event, by_id):
        return (
            "ECHO_OF_OWN_WRITE",
            "a change of a record the bridge writes in the CRM (interaction, study or site): its own write coming back (F9)",
        )
    if by_id.get(event.connection_id or "") is None:
        return "CONNECTION_INACTIVE", "its connection was deactivated or deleted after the event was accepted"
    return "NOTHING_TO_DO", "no delivery was planned for this event"


def _deliveries_for(
    event: InboxEvent,
    active: list[Connection],
    by_id: dict[str, Connection],
    settings: GlobalSettings,
    partitions: int,
) -> list[PlannedDelivery]:
    if event.source == "ctms":
        return [] if _is_ctms_echo(event, settings, by_id) else plan_ctms(event, active, settings, partitions)
    if _is_crm_echo(event, by_id):
        return []
    return plan_crm(event, by_id.get(event.connection_id or ""), partitions)


async def _plan_one_by_one(
    session: AsyncSession,
    events: list[InboxEvent],
    active: list[Connection],
    by_id: dict[str, Connection],
    settings: GlobalSettings,
    partitions: int,
) -> PlanResult:
    """The fallback: each event in its own savepoint; one that fails is marked failed, the rest go on."""
    result = PlanResult(events=len(events))
    for event in events:
        assert event.id is not None
        try:
            async with session.begin_nested():
                deliveries = await _plan_one(session, event, active, by_id, settings, partitions)
        except Exception as exc:
            log.exception("event_planning_failed", event_id=event.id)
            await inbox.mark(
                session, event.id, EventStatus.FAILED, "PLANNING_FAILED", f"{type(exc).__name__}: {_FAILED}"
            )
            continue
        result.deliveries += len(deliveries)
        result.lanes.update(d.lane for d in deliveries if d.status == DeliveryStatus.PENDING)
        if deliveries:
            await inbox.mark(session, event.id, EventStatus.PROCESSED)
        else:
            await inbox.mark(
                session, event.id, EventStatus.IGNORED, *ignore_reason(event, active, by_id, settings)
            )
    return result


async def _plan_one(
    session: AsyncSession,
    event: InboxEvent,
    active: list[Connection],
    by_id: dict[str, Connection],
    settings: GlobalSettings,
    partitions: int,
) -> list[PlannedDelivery]:
    if event.source == "ctms" and ctms_role(event.object, settings) == PERSON and event.record_id:
        await _forget_person_matches(session, event.record_id)
    deliveries = _deliveries_for(event, active, by_id, settings, partitions)
    await deliveries_repo.add_many(session, [d.row() for d in deliveries])
    return deliveries
