"""Initial load: everything that already exists in the CTMS (studies, sites, clinical activities) and in
each CRM org (calls sent to Vault Clinical), or only what changed since a date, read in pages and fed
through the inbox as caught-up changes. Delivery then does what it does for any change: parents first,
idempotent upserts, a link per record; a record whose content the bridge already wrote ends unchanged.

Each page's events and the source's cursor are saved in one transaction, so a load stopped anywhere (a
worker killed, the database gone) resumes at the first page it did not save, and re-reads nothing before.
One worker holds a load at a time (a claim renewed by a heartbeat); the sweep hands a silent one on.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.clients.crm import SalesforceGateway, VaultCrmGateway, safe_name
from app.clients.errors import AuthError, ClientError, TransientError
from app.config import Settings
from app.context import Resources
from app.domain.errors import MappingError
from app.domain.names import CrmNames
from app.logging import get_logger
from app.models import Connection, InitialLoad, utcnow
from app.repositories import connections as connections_repo
from app.repositories import initial_loads, singletons
from app.repositories.inbox_store import NewEvent
from app.services import audit, wakeups
from app.services.delivery.matching import match_pair
from app.services.liveness import Lost, kept_alive
from app.services.names import crm_names_for, ctms_names_for
from app.services.operator_errors import Conflict, NotFound
from app.services.transfer import catchup
from app.services.transfer.feed import crm_event, ctms_event, feed_many, load_prefix
from app.services.transfer.pages import Page, salesforce_count, salesforce_page, vault_count, vault_page
from app.worker.queue import JobQueue, QueueUnavailable

log = get_logger(__name__)
JOB = "initial_load"
HEARTBEAT_SECONDS = 10.0
TRANSIENT_TRIES = 5  # a page the source keeps refusing for a moment: this many tries, then the load fails


@dataclass
class Source:
    key: str  # the cursor's key: ctms:{object} or crm:{connection}:{object}
    label: str  # how counts are shown: ctms/{object} or {connection}/{object}
    read: Callable[[str | None, int], Awaitable[Page]]  # the page after (after, offset)
    to_events: Callable[[list[dict[str, Any]]], list[NewEvent]]
    count: Callable[[], Awaitable[int | None]]  # how many the source holds, for progress


def silence_limit(settings: Settings) -> timedelta:
    """No heartbeat for this long: the load's holder is gone (the lease a worker holds on its work)."""
    return timedelta(seconds=settings.lease_seconds)


def job_id(load: InitialLoad) -> str:
    """Unique per hand-over, so a re-enqueue of a silent load is never refused as a duplicate."""
    stamp = int((load.heartbeat_at or load.created_at).timestamp())
    return f"{JOB}:{load.id}:{stamp}"


async def hand_to_worker(queue: JobQueue, load: InitialLoad) -> None:
    """Enqueue a recorded load. With the queue down it stays queued: the sweep hands it on once it is back."""
    try:
        await queue.enqueue(JOB, load.id, job_id=job_id(load))
    except QueueUnavailable:
        log.warning("initial_load_enqueue_failed", load_id=load.id)


async def request_load(
    session: AsyncSession,
    actor: str,
    *,
    since: datetime | None = None,
    connection_id: str | None = None,
    trigger: str = "manual",
) -> InitialLoad:
    """Record a load (queued) and audit it; the caller enqueues it. One load at a time."""
    if connection_id is not None:
        connection = await connections_repo.get(session, connection_id)
        if connection is None:
            raise NotFound("CONNECTION_NOT_FOUND", f"no connection with id {connection_id}")
        if not connection.active:
            raise Conflict("CONNECTION_INACTIVE", f"connection {connection_id} is not active")
    await singletons.serialise(session, "initial_load")
    current = await initial_loads.open_load(session)
    if current is not None:
        raise Conflict(
            "INITIAL_LOAD_IN_PROGRESS",
            f"initial load {current.id} is {current.status}; wait for it to finish",
        )
    load = InitialLoad(trigger=trigger, requested_by=actor[:128], connection_id=connection_id, since=since)
    session.add(load)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="initial_load.start",
        resource_type="initial_load",
        resource_id=str(load.id),
        after={"since": since.isoformat() if since else None, "connection_id": connection_id},
    )
    return load


async def resume_load(session: AsyncSession, actor: str, load_id: int) -> InitialLoad:
    """A failed load goes back to the queue and continues from its cursors."""
    load = await initial_loads.get(session, load_id)
    if load is None:
        raise NotFound("INITIAL_LOAD_NOT_FOUND", f"no initial load with id {load_id}")
    current = await initial_loads.open_load(session)
    if current is not None and current.id != load_id:
        raise Conflict("INITIAL_LOAD_IN_PROGRESS", f"initial load {current.id} is {current.status}")
    if not await initial_loads.requeue(session, load_id):
        raise Conflict("INITIAL_LOAD_NOT_RESUMABLE", f"initial load {load_id} is {load.status}, not failed")
    await audit.record(
        session,
        actor=actor,
        action="initial_load.resume",
        resource_type="initial_load",
        resource_id=str(load_id),
    )
    await session.refresh(load)
    return load


async def run_load(resources: Resources, load_id: int) -> str | None:
    """Load, or go on loading, `load_id`. None when another live worker holds it or it is finished."""
    holder = f"{os.getpid()}:{uuid.uuid4().hex[:16]}"  # which process holds it, for operators
    now = utcnow()
    silence = silence_limit(resources.settings)
    async with resources.sessionmaker() as session, session.begin():
        load = await initial_loads.claim(session, load_id, holder, now, now - silence)
    if load is None:
        return None
    log.info("initial_load_started", load_id=load_id, resumed=bool(load.cursors))

    async def beat() -> bool:
        async with resources.sessionmaker() as session, session.begin():
            return await initial_loads.beat(session, load_id, holder, utcnow())

    cursors: dict[str, Any] = dict(load.cursors)
    try:
        errors = await kept_alive(
            _load(resources, load, holder, cursors),
            beat,
            every=min(HEARTBEAT_SECONDS, silence.total_seconds() / 4),
            silence=silence.total_seconds(),
            what=f"initial load {load_id}",
        )
    except Lost:
        log.warning("initial_load_lost", load_id=load_id)  # someone else holds it now
        return None
    except Exception as exc:  # a bug, or the database gone: recorded if it can be; resumable either way
        log.exception("initial_load_failed", load_id=load_id)
        failure = [{"code": "INTERNAL_ERROR", "message": type(exc).__name__}]
        async with resources.sessionmaker() as session, session.begin():
            await initial_loads.finish(session, load_id, holder, "failed", utcnow(), failure, cursors)
        raise
    status = "failed" if errors else "succeeded"
    async with resources.sessionmaker() as session, session.begin():
        await initial_loads.finish(session, load_id, holder, status, utcnow(), errors, cursors)
    log.info("initial_load_finished", load_id=load_id, status=status, errors=len(errors))
    return status


async def _load(
    resources: Resources, load: InitialLoad, holder: str, cursors: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every source to its end, page by page; `cursors` (by source) is kept up to date as pages are saved."""
    assert load.id is not None
    sources, errors = await _sources(resources, load)
    for n, source in enumerate(sources):  # JSON objects keep no order: each cursor says where it goes
        cursors.setdefault(source.key, _new_cursor(source.label, n))
    event_range = (load.first_event_id, load.last_event_id)
    await _count_up_front(resources, load.id, holder, sources, cursors, event_range)
    for source in sources:
        cursors[source.key].pop("error", None)
        while not cursors[source.key]["done"]:
            try:
                page = await _read_retrying(source, cursors[source.key])
            except ClientError as exc:
                cursors[source.key] = {
                    **cursors[source.key],
                    "error": {"code": exc.code, "message": exc.message},
                }
                errors.append({"source": source.label, "code": exc.code, "message": exc.message})
                if isinstance(exc, AuthError) and source.key.startswith("ctms:"):
                    return errors  # every CTMS source would fail the same way (a CRM one is one source)
                break
            event_range = await _save_page(resources, load.id, holder, cursors, source, page, event_range)
            await _wake_planner(resources)
    return errors


async def _count_up_front(
    resources: Resources,
    load_id: int,
    holder: str,
    sources: list[Source],
    cursors: dict[str, Any],
    event_range: tuple[int | None, int | None],
) -> None:
    """Every source's total before the first page, so progress has a whole from the start (one small
    call each; a source that refuses it is reported by its first page instead)."""
    counted = False
    for source in sources:
        cursor = cursors[source.key]
        if cursor["total"] is None and cursor["pages"] == 0:
            try:
                cursors[source.key] = {**cursor, "total": await source.count()}
                counted = True
            except ClientError:
                continue
    if counted:
        async with resources.sessionmaker() as session, session.begin():
            if not await initial_loads.save_page(session, load_id, holder, utcnow(), cursors, event_range):
                raise Lost(f"initial load {load_id}")


def _new_cursor(label: str, order: int) -> dict[str, Any]:
    return {
        "label": label,
        "order": order,
        "after": None,
        "offset": 0,
        "pages": 0,
        "read": 0,
        "stored": 0,
        "total": None,
        "done": False,
    }


async def _read_retrying(source: Source, cursor: dict[str, Any]) -> Page:
    for attempt in range(1, TRANSIENT_TRIES + 1):
        try:
            return await source.read(cursor["after"], cursor["offset"])
        except TransientError as exc:
            if attempt == TRANSIENT_TRIES:
                raise
            await asyncio.sleep(min(30.0, exc.retry_after or 2.0 * attempt))
    raise AssertionError("unreachable")


async def _save_page(
    resources: Resources,
    load_id: int,
    holder: str,
    cursors: dict[str, Any],
    source: Source,
    page: Page,
    event_range: tuple[int | None, int | None],
) -> tuple[int | None, int | None]:
    """The page's events and the cursor past it, in one transaction; the new range of the load's event ids."""
    events = source.to_events(page.rows)
    invalid = len(page.rows) - len(events)
    async with resources.sessionmaker() as session, session.begin():
        answers = await feed_many(session, events)
        new_ids = [event_id for event_id, new in answers if new]
        first, last = event_range
        if new_ids:
            first = min([*new_ids, *([first] if first is not None else [])])
            last = max([*new_ids, *([last] if last is not None else [])])
        cursor = dict(cursors[source.key])
        cursor.update(after=page.after, offset=page.offset, done=page.done)
        cursor.update(pages=cursor["pages"] + 1, read=cursor["read"] + len(page.rows))
        cursor.update(stored=cursor["stored"] + len(new_ids), invalid=cursor.get("invalid", 0) + invalid)
        if page.total is not None:
            cursor["total"] = page.total
        saved = {**cursors, source.key: cursor}
        if not await initial_loads.save_page(session, load_id, holder, utcnow(), saved, (first, last)):
            raise Lost(f"initial load {load_id}")  # rolled back: the new holder reads this page again
    cursors[source.key] = cursor
    metrics.INITIAL_LOAD_RECORDS.labels(source.label, "stored").inc(len(new_ids))
    metrics.INITIAL_LOAD_RECORDS.labels(source.label, "known").inc(len(events) - len(new_ids))
    if invalid:
        metrics.INITIAL_LOAD_RECORDS.labels(source.label, "invalid").inc(invalid)
    return first, last


async def _wake_planner(resources: Resources) -> None:
    try:
        await wakeups.wake_planner(resources.queue)
    except Exception:  # the sweep finds stored events that no wake-up reached
        log.warning("initial_load_wake_failed")


async def _sources(resources: Resources, load: InitialLoad) -> tuple[list[Source], list[dict[str, Any]]]:
    """What to read, parents first: CTMS studies, sites, activities; then each connection's sent calls."""
    assert load.id is not None
    prefix = load_prefix(load.id)
    errors: list[dict[str, Any]] = []
    async with resources.sessionmaker() as session:
        settings = await connections_repo.global_settings(session)
        connections = await connections_repo.list_active(session)
    if load.connection_id is not None:
        connections = [c for c in connections if c.id == load.connection_id]
    names = ctms_names_for(settings)
    sync_sites = any(c.sync_studies_and_sites for c in connections)
    wanted = dict(catchup.ctms_objects(names, settings, sync_sites))
    order = [names.study.object, names.site.object] if sync_sites else []
    order.append(names.activity.object)
    sources: list[Source] = []
    try:
        ctms = resources.clients.ctms()
    except ClientError as exc:
        errors.append({"source": "ctms", "code": exc.code, "message": exc.message})
    else:
        sources += [_ctms_source(ctms, obj, wanted[obj], load.since, prefix) for obj in order]
    for connection in connections:
        try:
            sources.append(_crm_source(resources, connection, settings, load.since, prefix))
        except ClientError as exc:
            errors.append({"source": connection.id, "code": exc.code, "message": exc.message})
    return sources, errors


def _ctms_source(
    ctms: Any, object_name: str, fields: list[str], since: datetime | None, prefix: str
) -> Source:
    columns = ", ".join(sorted({safe_name(f) for f in ("id", "created_date__v", *fields)}))
    select = f"SELECT {columns} FROM {safe_name(object_name)}"  # noqa: S608 - names checked, no values

    async def read(after: str | None, offset: int) -> Page:
        return await vault_page(ctms, select, [], since, after, offset)

    async def count() -> int | None:
        return await vault_count(ctms, select, [], since)

    def to_events(rows: list[dict[str, Any]]) -> list[NewEvent]:
        events = []
        for row in rows:
            data = {
                "object": object_name,
                "id": str(row.get("id") or ""),
                "modified_date__v": row.get("modified_date__v"),
                "record": row,
            }
            try:
                events.append(ctms_event("ctms.record.updated", data, prefix)[0])
            except (MappingError, ValueError):
                log.warning("initial_load_row_invalid", object=object_name)  # its id only would be data
        return events

    return Source(f"ctms:{object_name}", f"ctms/{object_name}", read, to_events, count)


def _crm_source(
    resources: Resources, connection: Connection, settings: Any, since: datetime | None, prefix: str
) -> Source:
    names: CrmNames = crm_names_for(connection)
    gateway = resources.clients.crm(connection)
    identifier = match_pair(connection, settings).crm_account_field
    sent = f"{safe_name(names.call.fields.sent_to_vault)} = true"
    shape: Callable[[dict[str, Any]], dict[str, Any]]
    if isinstance(gateway, SalesforceGateway):
        select, account_rel = catchup.salesforce_call_query(names, identifier)
        client = gateway.client

        async def read(after: str | None, offset: int) -> Page:
            return await salesforce_page(client, select, names.call.object, [sent], since, after)

        async def count() -> int | None:
            return await salesforce_count(client, names.call.object, [sent], since)

        def shape(row: dict[str, Any]) -> dict[str, Any]:
            return catchup.as_salesforce_call(row, names, account_rel)

    elif isinstance(gateway, VaultCrmGateway):
        vault_select = catchup.vault_crm_call_query(names, identifier)
        vault = gateway.client

        async def read(after: str | None, offset: int) -> Page:
            return await vault_page(vault, vault_select, [sent], since, after, offset)

        async def count() -> int | None:
            return await vault_count(vault, vault_select, [sent], since)

        def shape(row: dict[str, Any]) -> dict[str, Any]:
            return catchup.as_vault_crm_call(row, names, identifier)

    else:
        raise TypeError(f"no initial load for {type(gateway).__name__}")

    def to_events(rows: list[dict[str, Any]]) -> list[NewEvent]:
        events = []
        for row in rows:
            try:
                events.append(
                    crm_event(connection.id, "crm.call.sent_to_vault", {"record": shape(row)}, prefix)[0]
                )
            except (MappingError, ValueError):
                log.warning("initial_load_row_invalid", object=names.call.object, connection_id=connection.id)
        return events

    return Source(
        f"crm:{connection.id}:{names.call.object}",
        f"{connection.id}/{names.call.object}",
        read,
        to_events,
        count,
    )
