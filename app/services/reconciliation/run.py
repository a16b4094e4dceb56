"""One reconciliation run: for every link, the source's current state, the target's current state and
what the bridge last wrote, read from both sides in batches (≤ 1 call per 200 Salesforce records, per
1,000 Vault records); then the targets' records that carry the bridge's external id with no source, and
the deliveries still waiting for a person to match. Each difference is stored as a drift, by kind."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from math import ceil
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.clients.crm import (
    SALESFORCE_READ_CHUNK,
    VAULT_READ_CHUNK,
    SalesforceGateway,
    VaultCrmGateway,
    safe_name,
    vault_read_by_ids,
)
from app.clients.errors import ClientError
from app.context import Resources
from app.domain.ctms import type_name_field
from app.domain.drift import KINDS, field_drifts, source_is_ahead
from app.domain.mapping.deletions import deletion_mark
from app.domain.mapping.echo import is_ctms_echo
from app.domain.names import CrmNames, CtmsNames
from app.logging import get_logger
from app.models import Connection, Reconciliation, RecordLink, utcnow
from app.repositories import connections as connections_repo
from app.repositories import reconciliations as repo
from app.repositories import singletons
from app.services import audit
from app.services.delivery.automation import CTMS_LINKS
from app.services.liveness import Lost, kept_alive
from app.services.names import crm_names_for, ctms_names_for
from app.services.operator_errors import Conflict
from app.services.transfer.pages import salesforce_page, vault_page

log = get_logger(__name__)
JOB = "reconcile"
LINK_CHUNK = 5_000  # links compared per round: their reads are batched, their drifts saved together
HEARTBEAT_SECONDS = 10.0
QUEUED_LIMIT = timedelta(hours=1)  # a run no worker took in this long lost its job: a new one may start
GONE = object()  # a record the system no longer has


@dataclass
class Tally:
    checked: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # API calls per system


async def request_run(session: AsyncSession, actor: str, silence: timedelta) -> Reconciliation:
    """Record a run (queued) and audit it; the caller enqueues it. One run at a time; a run whose worker
    went silent (or whose job was lost) is closed as abandoned first."""
    now = utcnow()
    await singletons.serialise(session, "reconciliation")
    await repo.abandon_stale(session, now - silence, now, queued_before=now - QUEUED_LIMIT)
    current = await repo.open_run(session)
    if current is not None:
        raise Conflict(
            "RECONCILIATION_IN_PROGRESS", f"reconciliation {current.id} is {current.status}; wait for it"
        )
    run = Reconciliation(requested_by=actor[:128])
    session.add(run)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="reconciliation.start",
        resource_type="reconciliation",
        resource_id=str(run.id),
    )
    return run


async def run_reconciliation(resources: Resources, run_id: int) -> str | None:
    silence = timedelta(seconds=resources.settings.lease_seconds)
    now = utcnow()
    async with resources.sessionmaker() as session, session.begin():
        await repo.abandon_stale(session, now - silence, now)
        if not await repo.claim(session, run_id, now):
            return None
    log.info("reconciliation_started", run_id=run_id)
    tally = Tally()

    async def beat() -> bool:
        async with resources.sessionmaker() as session, session.begin():
            return await repo.beat(session, run_id, utcnow())

    try:
        errors = await kept_alive(
            _run(resources, run_id, tally),
            beat,
            every=min(HEARTBEAT_SECONDS, silence.total_seconds() / 4),
            silence=silence.total_seconds(),
            what=f"reconciliation {run_id}",
        )
    except Lost:
        await _close(resources, run_id, [{"code": "LOST", "message": "its heartbeat could not be renewed"}])
        return None
    except asyncio.CancelledError:  # shutdown or the job's time limit: closed now, not left running
        await asyncio.shield(
            _close(resources, run_id, [{"code": "CANCELLED", "message": "the run was stopped"}])
        )
        raise
    except Exception as exc:
        log.exception("reconciliation_failed", run_id=run_id)
        errors = [{"code": "INTERNAL_ERROR", "message": type(exc).__name__}]
    async with resources.sessionmaker() as session, session.begin():
        counts = await repo.drift_counts(session, run_id)
        status = "failed" if errors else "succeeded"
        values = {"status": status, "finished_at": utcnow(), "checked": tally.checked, "counts": counts}
        await repo.finish(session, run_id, {**values, "calls": dict(tally.calls), "errors": errors})
    if status == "succeeded":
        for kind in KINDS:
            metrics.RECONCILIATION_DRIFTS.labels(kind).set(counts.get(kind, 0))
    log.info("reconciliation_finished", run_id=run_id, status=status, drifts=sum(counts.values()))
    return status


async def _close(resources: Resources, run_id: int, errors: list[dict[str, Any]]) -> None:
    async with resources.sessionmaker() as session, session.begin():
        await repo.finish(session, run_id, {"status": "failed", "finished_at": utcnow(), "errors": errors})


async def _run(resources: Resources, run_id: int, tally: Tally) -> list[dict[str, Any]]:
    async with resources.sessionmaker() as session:
        settings = await connections_repo.global_settings(session)
        connections = await connections_repo.list_active(session)
    ctms_names = ctms_names_for(settings)
    try:
        ctms = resources.clients.ctms()
    except ClientError as exc:
        return [{"source": "ctms", "code": exc.code, "message": exc.message}]
    errors: list[dict[str, Any]] = []
    sources: dict[tuple[str, str], Any] = {}  # CTMS records' modification times, shared by the connections
    existing: dict[str, list[str]] = {}  # every CTMS record id per object, read once per run
    medical: dict[str, str] = {}  # Medical Activities by external id, found by the same scan
    connection_ids = [c.id for c in connections]
    for conn in connections:
        try:
            await _reconcile_connection(resources, run_id, conn, ctms, ctms_names, sources, tally)
            await _save(
                resources,
                run_id,
                conn.id,
                await _never_linked(
                    resources, conn, ctms, ctms_names, existing, medical, connection_ids, tally
                ),
            )
            await _save(
                resources,
                run_id,
                conn.id,
                await _calls_side(resources, conn, resources.clients.crm(conn), ctms_names, medical, tally),
            )
        except ClientError as exc:
            errors.append({"source": conn.id, "code": exc.code, "message": exc.message})
    for source_object, flag in _automated(settings, ctms_names):
        try:
            await _save(
                resources, run_id, CTMS_LINKS, await _automation(resources, ctms, source_object, flag, tally)
            )
        except ClientError as exc:
            errors.append({"source": f"ctms/{source_object}", "code": exc.code, "message": exc.message})
    return errors


def _automated(settings: Any, names: CtmsNames) -> list[tuple[str, str]]:
    """The F8 sources switched on, each with its activity_update_required__v field."""
    event, log = names.monitoring_event, names.communication_log
    switched = [
        (settings.automate_monitoring_events, event.object, event.fields.activity_update_required),
        (settings.automate_communication_log_items, log.object, log.fields.activity_update_required),
    ]
    return [(obj, flag) for on, obj, flag in switched if on]


async def _automation(
    resources: Resources, ctms: Any, source_object: str, flag: str, tally: Tally
) -> list[dict[str, Any]]:
    """F8's links, from a CTMS source to the activity made for it: the activity follows its source only
    when the source asks (its activity_update_required__v set), and the bridge clears the flag once it
    has. A flag still set, with nothing on its way, is an update that never arrived: changed_in_source.
    An activity edited or removed by hand is no drift: F8 leaves it to people after its creation."""
    async with resources.sessionmaker() as session:
        links = await repo.links_by_object(session, CTMS_LINKS, "ctms", source_object)
        on_way = await repo.in_transit(session, None, source_object)
    live = {i: link for i, link in links.items() if not link.deleted and i not in on_way}
    tally.checked += len(live)
    rows = await _read_vault(ctms, source_object, [flag], list(live), tally, "ctms")
    return [
        _drift("changed_in_source", "ctms", source_object, i, link.target_object, link.target_id)
        for i, link in live.items()
        if rows.get(i, {}).get(flag) is True
    ]


async def _reconcile_connection(
    resources: Resources,
    run_id: int,
    conn: Connection,
    ctms: Any,
    ctms_names: CtmsNames,
    sources: dict[tuple[str, str], Any],
    tally: Tally,
) -> None:
    names = crm_names_for(conn)
    gateway = resources.clients.crm(conn)
    after = 0
    while True:
        async with resources.sessionmaker() as session:
            links = await repo.links_page(session, conn.id, after_id=after, limit=LINK_CHUNK)
        if not links:
            break
        after = int(links[-1].id or 0)
        drifts = await _compare(conn, gateway, names, ctms, ctms_names, links, sources, tally)
        await _save(resources, run_id, conn.id, drifts)
    await _save(
        resources, run_id, conn.id, await _orphans(resources, conn, gateway, names, ctms_names, tally)
    )
    async with resources.sessionmaker() as session:
        waiting = await repo.unmatched(session, conn.id)
    unmatched = [
        _drift("unmatched_person", "ctms", obj, source_id, target or "", None)
        for obj, source_id, target in waiting
    ]
    await _save(resources, run_id, conn.id, unmatched)


async def _save(resources: Resources, run_id: int, connection_id: str, drifts: list[dict[str, Any]]) -> None:
    if not drifts:
        return
    rows = [{**d, "reconciliation_id": run_id, "connection_id": connection_id} for d in drifts]
    async with resources.sessionmaker() as session, session.begin():
        await repo.add_drifts(session, rows)


def _drift(
    kind: str,
    source_system: str,
    source_object: str,
    source_id: str,
    target_object: str,
    target_id: str | None,
    fields: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "source_system": source_system,
        "source_object": source_object,
        "source_id": source_id,
        "target_object": target_object,
        "target_id": target_id,
        "fields": fields or [],
        "repaired_at": None,
    }


async def _never_linked(
    resources: Resources,
    conn: Connection,
    ctms: Any,
    ctms_names: CtmsNames,
    existing: dict[str, list[str]],
    medical: dict[str, str],
    connection_ids: list[str],
    tally: Tally,
) -> list[dict[str, Any]]:
    """CTMS records the bridge should have sent here and never linked: missing in the target. Medical
    Activities (the bridge's own echo) and records waiting for a person to match are not."""
    names = crm_names_for(conn)
    activity = ctms_names.activity
    objects = [(activity.object, names.interaction.object)]
    if conn.sync_studies_and_sites:
        objects += [(ctms_names.study.object, names.clinical_study.object)]
        objects += [(ctms_names.site.object, names.clinical_site.object)]
    waiting = await _waiting(resources, conn.id)
    drifts: list[dict[str, Any]] = []
    for source_object, target_object in objects:
        if source_object not in existing:
            existing[source_object] = await _all_ids(
                ctms, source_object, ctms_names, connection_ids, tally, medical
            )
        async with resources.sessionmaker() as session:
            linked = await repo.linked_sources(session, conn.id, "ctms", source_object)
        drifts += [
            _drift("missing_in_target", "ctms", source_object, i, target_object, None)
            for i in existing[source_object]
            if i not in linked and i not in waiting
        ]
    return drifts


async def _all_ids(
    ctms: Any,
    object_name: str,
    ctms_names: CtmsNames,
    connection_ids: list[str],
    tally: Tally,
    medical: dict[str, str],
) -> list[str]:
    """Every record id of a CTMS object, page by page. Medical Activities (the bridge wrote them) are left
    out, and go into `medical` instead: their id by external id (``{connection}:{call id}``)."""
    activity = ctms_names.activity
    columns = {"id", "created_date__v"}
    if object_name == activity.object:
        columns |= {
            type_name_field(activity.fields.object_type),
            activity.fields.object_type,
            activity.fields.external_id,
        }
    select = f"SELECT {', '.join(sorted(safe_name(c) for c in columns))} FROM {safe_name(object_name)}"  # noqa: S608 - names checked
    ids: list[str] = []
    after: str | None = None
    offset, done = 0, False
    while not done:
        page = await vault_page(ctms, select, [], None, after, offset)
        tally.calls["ctms"] += 1
        after, offset, done = page.after, page.offset, page.done
        for row in page.rows:
            if not is_ctms_echo(object_name, row, ctms_names, connection_ids=connection_ids):
                ids.append(str(row["id"]))
            elif isinstance(external := row.get(activity.fields.external_id), str):
                medical[external] = str(row["id"])
    return ids


async def _calls_side(
    resources: Resources,
    conn: Connection,
    gateway: Any,
    ctms_names: CtmsNames,
    medical: dict[str, str],
    tally: Tally,
) -> list[dict[str, Any]]:
    """The CRM → CTMS flow: calls sent to Vault Clinical that the bridge never linked (missing in the
    CTMS), and Medical Activities carrying this connection's prefix with no call linked (no source)."""
    names = crm_names_for(conn)
    call, activity = names.call.object, ctms_names.activity.object
    async with resources.sessionmaker() as session:
        linked = await repo.linked_sources(session, conn.id, "crm", call)
    waiting = await _waiting(resources, conn.id)
    prefix = f"{conn.id}:"
    drifts = [
        _drift("in_target_without_source", "crm", call, external[len(prefix) :], activity, ma_id)
        for external, ma_id in medical.items()
        if external.startswith(prefix) and external[len(prefix) :] not in linked
    ]
    sent = f"{safe_name(names.call.fields.sent_to_vault)} = true"
    async for id_field, rows in _crm_pages(gateway, call, [], [sent], tally, conn.id):
        drifts += [
            _drift("missing_in_target", "crm", call, str(row[id_field]), activity, None)
            for row in rows
            if str(row[id_field]) not in linked and str(row[id_field]) not in waiting
        ]
    return drifts


async def _waiting(resources: Resources, connection_id: str) -> set[str]:
    """Source ids not missing even without a link: waiting for a person to match, or on their way."""
    async with resources.sessionmaker() as session:
        waiting = {source_id for _, source_id, _ in await repo.unmatched(session, connection_id)}
        return waiting | await repo.in_transit(session, connection_id)


async def _crm_pages(
    gateway: Any, object_name: str, columns: list[str], conditions: list[str], tally: Tally, label: str
) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """Every record of a CRM object that meets `conditions`, page by page from a keyset cursor, each page
    with the name of its id field; the calls made are counted under `label`."""
    after: str | None = None
    offset, done = 0, False
    while not done:
        if isinstance(gateway, SalesforceGateway):
            select = (
                f"SELECT {', '.join(safe_name(c) for c in ['Id', *columns])} FROM {safe_name(object_name)}"  # noqa: S608 - names checked
            )
            page = await salesforce_page(gateway.client, select, object_name, conditions, None, after)
            tally.calls[label] += 2 if after is None else 1  # the first page also counts the set
            id_field = "Id"
        elif isinstance(gateway, VaultCrmGateway):
            wanted = sorted({"id", "created_date__v", *columns})
            select = f"SELECT {', '.join(safe_name(c) for c in wanted)} FROM {safe_name(object_name)}"  # noqa: S608 - names checked
            page = await vault_page(gateway.client, select, conditions, None, after, offset)
            tally.calls[label] += 1
            id_field = "id"
        else:
            return
        after, offset, done = page.after, page.offset, page.done
        yield id_field, page.rows


def _ctms_modified_fields(names: CtmsNames) -> dict[str, str]:
    return {
        names.activity.object: names.activity.fields.modified,
        names.study.object: names.study.fields.modified,
        names.site.object: names.site.fields.modified,
    }


async def _compare(
    conn: Connection,
    gateway: Any,
    names: CrmNames,
    ctms: Any,
    ctms_names: CtmsNames,
    links: list[RecordLink],
    sources: dict[tuple[str, str], Any],
    tally: Tally,
) -> list[dict[str, Any]]:
    tally.checked += len(links)
    modified_of = _ctms_modified_fields(ctms_names)
    # 1. the sources' current state: CTMS records (once per run), this org's calls
    for obj, ids in _by(links, "ctms", lambda link: link.source_object).items():
        wanted = [i for i in ids if (obj, i) not in sources]
        modified = modified_of.get(obj, "modified_date__v")
        rows = await _read_vault(ctms, obj, [modified], wanted, tally, "ctms")
        sources.update({(obj, i): rows[i].get(modified) if i in rows else GONE for i in wanted})
    calls: dict[tuple[str, str], Any] = {}
    for obj, ids in _by(links, "crm", lambda link: link.source_object).items():
        modified = names.call.fields.last_modified
        rows = await _read_crm(gateway, obj, [modified], ids, tally, conn.id)
        calls.update({(obj, i): rows[i].get(modified) if i in rows else GONE for i in ids})
    # 2. the targets' current state, with the fields the bridge wrote
    targets: dict[tuple[str, str], Any] = {}
    for system, read in (("ctms", _read_crm), ("crm", _read_vault)):
        grouped: dict[str, list[RecordLink]] = defaultdict(list)
        for link in links:
            if link.source_system == system and link.target_id:
                grouped[link.target_object].append(link)
        for obj, group in grouped.items():
            wanted_fields = sorted(
                {k for link in group for k in link.last_fields if _plain(k)}
                | _mark_fields(obj, names, ctms_names)
            )
            ids = [str(link.target_id) for link in group]
            client = gateway if system == "ctms" else ctms
            label = conn.id if system == "ctms" else "ctms"
            rows = await read(client, obj, wanted_fields, ids, tally, label)
            targets.update({(obj, i): rows.get(i, GONE) for i in ids})
    # 3. compare
    drifts: list[dict[str, Any]] = []
    for link in links:
        state = (sources if link.source_system == "ctms" else calls)[(link.source_object, link.source_id)]
        target = targets.get((link.target_object, str(link.target_id)), GONE) if link.target_id else GONE

        def drift(kind: str, fields: list[dict[str, Any]] | None = None, link: RecordLink = link) -> None:
            drifts.append(
                _drift(
                    kind,
                    link.source_system,
                    link.source_object,
                    link.source_id,
                    link.target_object,
                    link.target_id,
                    fields,
                )
            )

        if link.deleted:  # marked deleted (or inactivated) by the bridge: the mark must still be there
            if state is GONE and isinstance(target, dict):
                mark = deletion_mark(
                    link.target_object,
                    link.source_id,
                    link.last_fields,
                    connection_id=conn.id,
                    names=names,
                    ctms_names=ctms_names,
                )
                restored = field_drifts(mark, target) if mark else []
                if restored:  # undone by hand (reactivated, the subject's "Deleted" removed)
                    drift("deleted_in_source", restored)
            continue
        if state is GONE:
            if isinstance(target, dict):  # gone on both sides agrees; live in the target does not
                drift("deleted_in_source")
            continue
        if source_is_ahead(state, link.last_applied_modified_at):
            drift("changed_in_source")
        if not isinstance(target, dict):
            drift("missing_in_target")
            continue
        wrote = {k: v for k, v in link.last_fields.items() if _plain(k)}
        changed = field_drifts(wrote, target)
        if changed:
            drift("changed_in_target", changed)
    return drifts


def _mark_fields(target_object: str, names: CrmNames, ctms_names: CtmsNames) -> set[str]:
    """The fields a deletion mark lives in, read beside the ones the bridge wrote."""
    if target_object == names.interaction.object:
        return {names.interaction.fields.subject}
    if target_object == names.clinical_study.object:
        return {names.clinical_study.fields.status}
    if target_object == names.clinical_site.object:
        return {names.clinical_site.fields.status}
    if target_object == ctms_names.activity.object:
        return {ctms_names.activity.fields.status}
    return set()


def _plain(name: str) -> bool:
    """A field the target answers by that name (not a relationship path like object_type__v.api_name__v)."""
    return "." not in name


def _by(links: Iterable[RecordLink], system: str, key: Any) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for link in links:
        if link.source_system == system:
            grouped[key(link)].append(link.source_id)
    return {k: sorted(set(v)) for k, v in grouped.items()}


async def _read_vault(
    client: Any, obj: str, fields: list[str], ids: list[str], tally: Tally, label: str
) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    tally.calls[label] += ceil(len(set(ids)) / VAULT_READ_CHUNK)
    return await vault_read_by_ids(client, obj, fields, ids, size=VAULT_READ_CHUNK)


async def _read_crm(
    gateway: Any, obj: str, fields: list[str], ids: list[str], tally: Tally, label: str
) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    chunk = SALESFORCE_READ_CHUNK if isinstance(gateway, SalesforceGateway) else VAULT_READ_CHUNK
    tally.calls[label] += ceil(len(set(ids)) / chunk)
    rows: dict[str, dict[str, Any]] = await gateway.read_records(obj, fields, ids)
    return rows


async def _orphans(
    resources: Resources, conn: Connection, gateway: Any, names: CrmNames, ctms_names: CtmsNames, tally: Tally
) -> list[dict[str, Any]]:
    """Target records that carry the bridge's external id of a source the bridge never linked here."""
    kinds = [(names.interaction.object, names.interaction.external_id, ctms_names.activity.object)]
    if conn.sync_studies_and_sites:
        kinds.append((names.clinical_study.object, names.clinical_study.external_id, ctms_names.study.object))
        kinds.append((names.clinical_site.object, names.clinical_site.external_id, ctms_names.site.object))
    drifts: list[dict[str, Any]] = []
    for target_object, external_id, source_object in kinds:
        async with resources.sessionmaker() as session:
            linked = await repo.linked_source_ids(session, conn.id, target_object)
        condition = f"{safe_name(external_id)} != null"
        async for id_field, rows in _crm_pages(
            gateway, target_object, [external_id], [condition], tally, conn.id
        ):
            for row in rows:
                source_id = row.get(external_id)
                if source_id and str(source_id) not in linked:
                    drifts.append(
                        _drift(
                            "in_target_without_source",
                            "ctms",
                            source_object,
                            str(source_id),
                            target_object,
                            str(row[id_field]),
                        )
                    )
    return drifts
