"""Repair: re-send what a reconciliation found drifted, through the ordinary pipeline (attempts, links,
an audit trail), after a dry run that shows exactly what would be done.

A re-send is a forced re-sync: the link forgets its content hash, and a thin event makes delivery read
the source's current version and write it whatever the target holds. A source deleted but live in the
target gets the deletion event its system would have sent. A record in a target with no source, and a
person who matches no account, cannot be fixed by sending again: they are listed, and left.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.envelopes import StoredFields
from app.domain.mapping.deletions import deletion_mark
from app.models import Connection, Drift, RecordLink, utcnow
from app.repositories import connections as connections_repo
from app.repositories import reconciliations as repo
from app.repositories.inbox_store import NewEvent
from app.services import audit
from app.services.delivery.automation import CTMS_LINKS
from app.services.names import crm_names_for, ctms_names_for
from app.services.operator_errors import Conflict, NotFound
from app.services.reconciliation.selection import Value, ids_matching
from app.services.transfer.feed import feed_many, inbox_event

RESEND = ("missing_in_target", "changed_in_target", "changed_in_source")
REPAIRABLE = (*RESEND, "deleted_in_source")


@dataclass
class RepairPlan:
    actions: list[dict[str, Any]] = field(default_factory=list)  # what is (or would be) done, per drift
    skipped: list[dict[str, Any]] = field(default_factory=list)  # drifts a re-send cannot fix, and why
    events: int = 0


async def repair(
    session: AsyncSession,
    actor: str,
    run_id: int,
    *,
    dry_run: bool,
    kinds: list[str] | None = None,
    source_ids: list[str] | None = None,
    connection_id: str | None = None,
) -> RepairPlan:
    """Re-send what drifted, or (a dry run) say exactly what would be sent. A dry run shows the fields
    of each re-send where they are known without reading the source: the bridge's last write, when the
    source has not changed since. The others are read and mapped by `preview.with_previews`, which the
    caller runs once this transaction is over (it works in its own, rolled back)."""
    run = await repo.get(session, run_id)
    if run is None:
        raise NotFound("RECONCILIATION_NOT_FOUND", f"no reconciliation with id {run_id}")
    if run.status != "succeeded":
        raise Conflict("RECONCILIATION_NOT_FINISHED", f"reconciliation {run_id} is {run.status}")
    drifts = await repo.drifts(
        session, run_id, kinds=kinds, source_ids=source_ids, connection_id=connection_id, unrepaired=True
    )
    connections = {c.id: c for c in await connections_repo.list_active(session)}
    plan = RepairPlan()
    last_written = await _last_written(session, run_id, [d for d in drifts if d.kind in RESEND])
    marks = await _marks(session, connections, [d for d in drifts if d.kind == "deleted_in_source"])
    events: list[NewEvent] = []
    forget: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    now = utcnow()
    for drift in drifts:
        described = _describe(drift)
        reason = _why_not(drift, drift.connection_id in connections or drift.connection_id == CTMS_LINKS)
        if reason:
            plan.skipped.append({**described, "reason": reason})
            continue
        if drift.kind in RESEND:
            fields = last_written.get(drift.id or 0)
            plan.actions.append(
                {
                    **described,
                    "action": "resend",
                    "writes": (
                        "these fields: what the bridge last wrote (the source has not changed since)"
                        if fields is not None
                        else "the source's current version, read and mapped at delivery (changed since, or never written)"
                    ),
                    "fields": fields,
                }
            )
            forget[(drift.connection_id, drift.source_system)].append((drift.source_object, drift.source_id))
            events.append(resend_event(f"repair:{run_id}:{drift.id}", drift, now))
        else:
            plan.actions.append(
                {
                    **described,
                    "action": "mark_deleted",
                    "writes": "the deletion, as the source system sends it",
                    "fields": marks.get(drift.id or 0),
                }
            )
            # a mark the bridge made and someone undid is written again, not taken as already there
            forget[(drift.connection_id, drift.source_system)].append((drift.source_object, drift.source_id))
            events.append(_deleted_event(run_id, drift, now))
    plan.events = len(events)
    if dry_run or not plan.actions:  # nothing changes: nothing to audit
        return plan
    for (conn_id, system), pairs in forget.items():
        await repo.forget_content(session, conn_id, system, pairs)
    for start in range(0, len(events), 1000):
        await feed_many(session, events[start : start + 1000])
    await repo.mark_repaired(session, [int(a["drift_id"]) for a in plan.actions], now)
    await audit.record(
        session,
        actor=actor,
        action="reconciliation.repair",
        resource_type="reconciliation",
        resource_id=str(run_id),
        after={
            "repaired": len(plan.actions),
            "skipped": len(plan.skipped),
            "kinds": kinds,
            "source_ids": len(source_ids or []),
        },
    )
    return plan


async def _links_of_drifts(session: AsyncSession, drifts: list[Drift]) -> dict[int, RecordLink]:
    """Each drift's link (where it has one), with one read of the links per connection and object."""
    groups: dict[tuple[str, str, str], list[Drift]] = defaultdict(list)
    for d in drifts:
        groups[(d.connection_id, d.source_system, d.source_object)].append(d)
    found: dict[int, RecordLink] = {}
    for (conn_id, system, obj), group in groups.items():
        links = await repo.links_of(session, conn_id, system, obj, [d.source_id for d in group])
        found |= {int(d.id or 0): links[d.source_id] for d in group if d.source_id in links}
    return found


async def _last_written(session: AsyncSession, run_id: int, drifts: list[Drift]) -> dict[int, dict[str, Any]]:
    """Per drift to re-send: exactly what the write will hold, where it is known before delivery. When
    the source has not changed since the bridge's last write, the mapping of it is what the link kept."""
    changed = {
        (d.connection_id, d.source_system, d.source_object, d.source_id)
        for d in await repo.drifts(session, run_id, kinds=["changed_in_source"])
    }
    unchanged = [
        d for d in drifts if (d.connection_id, d.source_system, d.source_object, d.source_id) not in changed
    ]
    links = await _links_of_drifts(session, unchanged)
    return {i: dict(link.last_fields) for i, link in links.items() if link.last_fields and not link.deleted}


async def _marks(
    session: AsyncSession, connections: dict[str, Connection], drifts: list[Drift]
) -> dict[int, dict[str, Any]]:
    """Per deletion drift: the mark its deletion writes (F2's subject, F7's status, F4's inactive status)."""
    ctms_names = ctms_names_for(await connections_repo.global_settings(session))
    ours = [d for d in drifts if d.connection_id in connections]
    links = await _links_of_drifts(session, ours)
    marks: dict[int, dict[str, Any]] = {}
    for d in ours:
        link = links.get(int(d.id or 0))
        mark = deletion_mark(
            d.target_object,
            d.source_id,
            link.last_fields if link is not None else {},
            connection_id=d.connection_id,
            names=crm_names_for(connections[d.connection_id]),
            ctms_names=ctms_names,
        )
        if mark is not None:
            marks[int(d.id or 0)] = mark
    return marks


def _describe(drift: Drift) -> dict[str, Any]:
    return {
        "drift_id": drift.id,
        "kind": drift.kind,
        "connection_id": drift.connection_id,
        "source_system": drift.source_system,
        "source_object": drift.source_object,
        "source_id": drift.source_id,
        "target_object": drift.target_object,
        "target_id": drift.target_id,
    }


def _why_not(drift: Drift, target_active: bool) -> str | None:
    if drift.kind == "in_target_without_source":
        return "no source to send: remove or re-key the target record by hand"
    if drift.kind == "unmatched_person":
        return "no account matches the person: fix the identifier; the next Transfer run retries it"
    if not target_active:
        return "the connection is not active"
    return None


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class SourceRecord(Protocol):
    """A record named the way a link and a drift name it."""

    @property
    def source_system(self) -> str: ...
    @property
    def source_object(self) -> str: ...
    @property
    def source_id(self) -> str: ...
    @property
    def connection_id(self) -> str: ...


@dataclass(frozen=True)
class Named:
    source_system: str
    source_object: str
    source_id: str
    connection_id: str


def _event(rec: SourceRecord, webhook_id: str, type_: str, data: dict[str, Any], now: datetime) -> NewEvent:
    """An event as the record's source system would send it, stored under the repair's own id."""
    document = {"type": type_, "timestamp": _stamp(now), "data": data}
    fields = StoredFields(
        type=type_, object=rec.source_object, record_id=rec.source_id, source_modified_at=now
    )
    connection_id = rec.connection_id if rec.source_system == "crm" else None
    return inbox_event(fields, rec.source_system, connection_id, webhook_id, document)


def resend_event(webhook_id: str, rec: SourceRecord, now: datetime) -> NewEvent:
    """A thin event: delivery reads the source's current version, as for a Spark message or an Outbound
    Message; its time is now, so no earlier change can count as newer."""
    if rec.source_system == "ctms":
        data: dict[str, Any] = {"object": rec.source_object, "id": rec.source_id}
        return _event(rec, webhook_id, "ctms.record.updated", data, now)
    # the id under both platforms' names: delivery reads the call back by it (Salesforce or Vault CRM)
    record = {"attributes": {"type": rec.source_object}, "Id": rec.source_id, "id": rec.source_id}
    return _event(rec, webhook_id, "crm.call.sent_to_vault", {"record": record, "thin": True}, now)


async def resync(
    session: AsyncSession,
    actor: str,
    *,
    connection_id: str,
    source_system: str,
    source_object: str,
    source_ids: list[str],
    where: dict[str, Value] | None = None,
) -> int:
    """A forced re-sync of these records to one connection, drift or not: their links forget the content
    hash and each gets a thin event, so delivery writes the source's current version. Events stored.
    `where` says how the ids were chosen, for the audit trail."""
    await _active_connection(session, connection_id)
    ids = list(dict.fromkeys(source_ids))
    await repo.forget_content(session, connection_id, source_system, [(source_object, i) for i in ids])
    now = utcnow()
    stamp = uuid.uuid4().hex[:12]
    events = [
        resend_event(f"resync:{stamp}:{i}", Named(source_system, source_object, i, connection_id), now)
        for i in ids
    ]
    for start in range(0, len(events), 1000):
        await feed_many(session, events[start : start + 1000])
    await audit.record(
        session,
        actor=actor,
        action="records.resync",
        resource_type="connection",
        resource_id=connection_id,
        after={
            "source_system": source_system,
            "source_object": source_object,
            "records": len(ids),
            # the fields only: a filter's values may be personal data (an email, a name)
            **({"where_fields": sorted(where)} if where is not None else {}),
        },
    )
    return len(events)


async def resync_where(
    session: AsyncSession,
    clients: Any,
    actor: str,
    *,
    connection_id: str,
    source_system: str,
    source_object: str,
    where: dict[str, Value],
) -> int:
    """A forced re-sync of every record of the source that matches `where` (each field equals its value),
    as the source system answers now: linked or never written alike."""
    conn = await _active_connection(session, connection_id)
    names = ctms_names_for(await connections_repo.global_settings(session))
    synced = {names.activity.object, names.study.object, names.site.object}
    synced |= {names.monitoring_event.object, names.communication_log.object}
    ids = await ids_matching(clients, conn, source_system, source_object, where, synced)
    return await resync(
        session,
        actor,
        connection_id=connection_id,
        source_system=source_system,
        source_object=source_object,
        source_ids=ids,
        where=where,
    )


async def _active_connection(session: AsyncSession, connection_id: str) -> Connection:
    conn = await connections_repo.get(session, connection_id)
    if conn is None:
        raise NotFound("CONNECTION_NOT_FOUND", f"no connection with id {connection_id}")
    if not conn.active:
        raise Conflict("CONNECTION_INACTIVE", f"connection {connection_id} is not active")
    return conn


def _deleted_event(run_id: int, drift: Drift, now: datetime) -> NewEvent:
    webhook_id = f"repair:{run_id}:{drift.id}"
    if drift.source_system == "ctms":
        data = {"object": drift.source_object, "id": drift.source_id, "modified_date__v": _stamp(now)}
        return _event(drift, webhook_id, "ctms.record.deleted", data, now)
    data = {"Id": drift.source_id, "deleted_at": _stamp(now)}
    return _event(drift, webhook_id, "crm.call.deleted", data, now)
