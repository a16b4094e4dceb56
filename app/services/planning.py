"""Planning: turn stored inbox events into deliveries, one per target connection and record (fan-out).

Planning does no I/O beyond our database: thin events are read from the vault later, in batches, by the
delivery engine. Which connections get what follows SPEC.md section 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.logging import get_logger
from app.models import (
    AccountMatch,
    Connection,
    Delivery,
    DeliveryStatus,
    EventStatus,
    GlobalSettings,
    InboxEvent,
)
from app.models import Operation as Op
from app.repositories import connections as connections_repo
from app.repositories import inbox
from app.services.names import crm_names_for

log = get_logger(__name__)
ACTIVITY = "crm_activity__v"
STUDY = "study__v"
SITE = "site__v"
PERSON = "person__sys"
MONITORING_EVENT = "monitoring_event__v"
COMMUNICATION_LOG = "study_communication_log__ctms"
CTMS_LANE = "ctms:crm_activity__v"  # every connection's medical activities land in the one vault object


def lane(connection_id: str, kind: str) -> str:
    return f"{connection_id}:{kind}"


@dataclass
class PlanResult:
    events: int = 0
    deliveries: int = 0
    lanes: set[str] = field(default_factory=set)


def _is_ctms_echo(event: InboxEvent) -> bool:
    """F9: a Medical Activity change is our own write coming back."""
    record = event.payload.get("data", {}).get("record")
    return (
        event.object == ACTIVITY
        and isinstance(record, dict)
        and record.get("object_type__v") == "medical_activity__v"
    )


def _delivery(
    event: InboxEvent, connection_id: str | None, direction: str, op: Op, lane_: str, **kw: object
) -> Delivery:
    return Delivery(
        event_id=event.id,
        connection_id=connection_id,
        direction=direction,
        operation=op,
        lane=lane_,
        source_object=event.object or "",
        source_id=event.record_id or "",
        source_modified_at=event.source_modified_at,
        **kw,  # type: ignore[arg-type]
    )


def plan_ctms(event: InboxEvent, active: list[Connection], settings: GlobalSettings) -> list[Delivery]:
    deleted = event.type == "ctms.record.deleted"
    obj = event.object
    if obj == ACTIVITY:
        op = Op.DELETE_INTERACTION if deleted else Op.UPSERT_INTERACTION
        return [_delivery(event, c.id, "ctms_to_crm", op, lane(c.id, "interaction")) for c in active]
    if obj in (STUDY, SITE):
        kind = "study" if obj == STUDY else "site"
        op = {
            (STUDY, False): Op.UPSERT_STUDY,
            (STUDY, True): Op.DELETE_STUDY,
            (SITE, False): Op.UPSERT_SITE,
            (SITE, True): Op.DELETE_SITE,
        }[(obj, deleted)]
        return [
            _delivery(event, c.id, "ctms_to_crm", op, lane(c.id, kind))
            for c in active
            if c.sync_studies_and_sites
        ]
    automated = (obj == MONITORING_EVENT and settings.automate_monitoring_events) or (
        obj == COMMUNICATION_LOG and settings.automate_communication_log_items
    )
    if automated and not deleted:
        return [_delivery(event, None, "ctms_to_ctms", Op.AUTOMATE_ACTIVITY, "ctms:automation")]
    return []


def plan_crm(event: InboxEvent, connection: Connection | None) -> list[Delivery]:
    if connection is None or event.connection_id is None:
        return []  # the connection was deleted after the event was accepted
    deliveries = _plan_crm(event, connection)
    call_object = crm_names_for(connection).call.object
    for d in deliveries:  # one name for the call object, whatever the event said (deletions say none)
        d.source_object = call_object
    return deliveries


def _plan_crm(event: InboxEvent, connection: Connection) -> list[Delivery]:
    if event.type == "crm.call.deleted":
        # F4: applied when the Transfer job next runs, as the product has always done
        return [
            _delivery(
                event,
                connection.id,
                "crm_to_ctms",
                Op.INACTIVATE_MEDICAL_ACTIVITY,
                CTMS_LANE,
                status=DeliveryStatus.AWAITING_TRANSFER,
            )
        ]
    return [_delivery(event, connection.id, "crm_to_ctms", Op.UPSERT_MEDICAL_ACTIVITY, CTMS_LANE)]


def is_crm_echo(event: InboxEvent) -> bool:
    """F9: events about the Vault Clinical Interactions we write are ours coming back."""
    return bool(event.object and "clinical_interaction" in event.object.lower())


async def _forget_person_matches(session: AsyncSession, person_id: str) -> None:
    """A changed person may carry a new identifier: its cached account matches no longer hold."""
    await session.execute(delete(AccountMatch).where(col(AccountMatch.person_id) == person_id))


async def plan_pending(session: AsyncSession, limit: int = 500) -> PlanResult:
    """Claim a batch of received events and plan them. The caller commits, then wakes the lanes."""
    events = await inbox.claim_received(session, limit)
    result = PlanResult(events=len(events))
    if not events:
        return result
    active = await connections_repo.list_active(session)
    by_id = {c.id: c for c in active}
    settings = await connections_repo.global_settings(session)
    for event in events:
        assert event.id is not None
        try:
            async with session.begin_nested():  # one event that cannot be planned must not block the rest
                deliveries = await _plan_one(session, event, active, by_id, settings)
        except Exception as exc:
            log.exception("event_planning_failed", event_id=event.id)
            await inbox.mark(
                session,
                event.id,
                EventStatus.FAILED,
                "PLANNING_FAILED",
                f"{type(exc).__name__}: the bridge could not plan this event",
            )
            continue
        result.deliveries += len(deliveries)
        result.lanes.update(d.lane for d in deliveries if d.status == DeliveryStatus.PENDING)
        await inbox.mark(session, event.id, EventStatus.PROCESSED if deliveries else EventStatus.IGNORED)
    await session.flush()
    return result


async def _plan_one(
    session: AsyncSession,
    event: InboxEvent,
    active: list[Connection],
    by_id: dict[str, Connection],
    settings: GlobalSettings,
) -> list[Delivery]:
    if event.source == "ctms":
        if event.object == PERSON and event.record_id:
            await _forget_person_matches(session, event.record_id)
        deliveries = [] if _is_ctms_echo(event) else plan_ctms(event, active, settings)
    else:
        deliveries = [] if is_crm_echo(event) else plan_crm(event, by_id.get(event.connection_id or ""))
    session.add_all(deliveries)
    await session.flush()
    return deliveries
