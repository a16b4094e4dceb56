"""F8: a Monitoring Event or Study Communication Log Item gets a related Clinical Activity in the CTMS.

The rules are app/domain/mapping/automation.py's. This lane reads each source record (from its event, or
from the vault for thin events), upserts the activity keyed by ``external_id__v`` = the source record's
id (up to 500 per call), and, once the activity reflects a source whose ``activity_update_required__v``
is set, clears that flag so the source's next unrelated edit leaves the activity alone. The vault then
announces the activity like any other, and F1 carries it to every connection: automated activities are
not echoes (app/domain/mapping/echo.py).

"From": the vault records the bridge's integration user as the activity's creator, so F1 fills the CRM
interaction's From with that user. That is acceptable: no person logged this activity, the bridge
derived it from the source record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.clients.crm import vault_read_by_ids
from app.clients.vault import MAX_BATCH
from app.domain.ctms import parse_communication_log_item, parse_monitoring_event
from app.domain.errors import MappingError
from app.domain.mapping.automation import (
    activity_update_required,
    clear_activity_update_required,
    comm_log_item_to_activity,
    monitoring_event_to_activity,
    should_sync_automated_activity,
)
from app.domain.names import CtmsNames
from app.domain.upsert import TargetUpsert
from app.models import DeliveryStatus
from app.repositories import links as links_repo
from app.repositories.rows import DeliveryRow, LinkRow
from app.services.delivery.common import (
    is_stale,
    keeping_decided,
    link_maker,
    newest_per_record,
    outcome_of_write,
    write_all,
)
from app.services.delivery.outcomes import Outcome
from app.services.delivery.work import LaneWork
from app.services.object_types import with_type_ids

# record_links.connection_id is not null; links from the CTMS to itself use this literal instead
CTMS_LINKS = "ctms"
CREATED = "ctms.record.created"

Raw = Mapping[str, Any]


@dataclass(frozen=True)
class _Kind:
    """How one source object is read and turned into an activity."""

    fields: list[str]
    flag: str
    to_activity: Callable[[Raw, CtmsNames], TargetUpsert]


def _kinds(names: CtmsNames) -> dict[str, _Kind]:
    event, log = names.monitoring_event, names.communication_log
    return {
        event.object: _Kind(
            list(event.fields.model_dump().values()),
            event.fields.activity_update_required,
            lambda raw, n: monitoring_event_to_activity(parse_monitoring_event(raw, n), ctms_names=n),
        ),
        log.object: _Kind(
            list(log.fields.model_dump().values()),
            log.fields.activity_update_required,
            lambda raw, n: comm_log_item_to_activity(parse_communication_log_item(raw, n), ctms_names=n),
        ),
    }


@dataclass
class _Source:
    """A source record whose activity is to be written, and whether its flag must be cleared after."""

    delivery: DeliveryRow
    upsert: TargetUpsert
    flag: str | None  # the set activity_update_required__v field, or None when it is not set


Key = tuple[str, str]


def _key(d: DeliveryRow) -> Key:
    return (d.source_object, d.source_id)


@keeping_decided
async def handle_automation(work: LaneWork, outcomes: dict[int, Outcome]) -> dict[int, Outcome]:
    names = work.ctms_names
    kinds = _kinds(names)
    # A creation creates the activity only while there is none (a re-sent creation, or a catch-up that
    # reports an edited record as created, must not override the flag rule); one superseded in the batch
    # by a later edit still counts.
    created = {_key(d) for d in work.deliveries if _event_type(work, d) == CREATED}
    keep, superseded = newest_per_record(work.deliveries)
    outcomes.update(superseded)
    links = await _links(work, keep)
    fresh: list[DeliveryRow] = []
    for d in keep:
        assert d.id is not None
        if is_stale(d, links.get(_key(d))):
            outcomes[d.id] = Outcome.stale("the activity already reflects a newer version of this record")
        else:
            fresh.append(d)
    created -= links.keys()

    # Records carried by their events are judged first, so their data errors are decided before a read fails.
    sources: list[_Source] = []
    raws = {_key(d): work.event_data(d).get("record") for d in fresh}
    thin = [d for d in fresh if not raws[_key(d)]]
    _decide_all([d for d in fresh if raws[_key(d)]], raws, created, kinds, names, outcomes, sources)
    if thin:
        raws.update(await _read_thin(work, thin, kinds))
        _decide_all(thin, raws, created, kinds, names, outcomes, sources)

    ctms = work.clients.ctms()
    # the mapping names the type (clinical_activity__v); a vault takes its id, and the content hash
    # compared below is of what is sent
    typed = await with_type_ids(
        ctms,
        [s.upsert for s in sources],
        object_name=names.activity.object,
        field=names.activity.fields.object_type,
    )
    for s, sent in zip(sources, typed, strict=True):
        s.upsert = sent
    to_write: list[tuple[int, TargetUpsert]] = []
    for s in sources:
        assert s.delivery.id is not None
        link = links.get(_key(s.delivery))
        if link is not None and link.content_hash == s.upsert.content_hash():
            outcomes[s.delivery.id] = Outcome.unchanged(
                "the vault's activity already has this content",
                link_maker(
                    s.delivery, source_system="ctms", connection_id=CTMS_LINKS, upsert=s.upsert, prior=link
                )(None),
            )
        else:
            to_write.append((s.delivery.id, s.upsert))

    async def upsert(object_name: str, id_field: str, records: list[dict[str, Any]]) -> Any:
        return await ctms.upsert(object_name, records, id_field)

    written = await write_all(upsert, ctms.target, MAX_BATCH, to_write)
    by_id = {s.delivery.id: s for s in sources}
    for delivery_id, target in to_write:
        d = by_id[delivery_id].delivery
        result, call = written[delivery_id]
        outcomes[delivery_id] = outcome_of_write(
            d,
            result,
            call,
            target_object=target.object,
            link=link_maker(
                d, source_system="ctms", connection_id=CTMS_LINKS, upsert=target, prior=links.get(_key(d))
            ),
        )
    await _clear_flags(work, sources, outcomes)
    return outcomes


def _event_type(work: LaneWork, d: DeliveryRow) -> str | None:
    event = work.events.get(d.event_id or -1)
    return event.type if event else None


async def _links(work: LaneWork, deliveries: list[DeliveryRow]) -> dict[Key, LinkRow]:
    found: dict[Key, LinkRow] = {}
    async with work.resources.sessionmaker() as session:
        for object_name in sorted({d.source_object for d in deliveries}):
            ids = [d.source_id for d in deliveries if d.source_object == object_name]
            links = await links_repo.get_many(session, CTMS_LINKS, "ctms", object_name, ids)
            found.update({(object_name, i): link for i, link in links.items()})
    return found


async def _read_thin(
    work: LaneWork, deliveries: list[DeliveryRow], kinds: dict[str, _Kind]
) -> dict[Key, dict[str, Any]]:
    """Records of thin events, read from the vault in one query per object and 100 records."""
    read: dict[Key, dict[str, Any]] = {}
    for object_name in sorted({d.source_object for d in deliveries if d.source_object in kinds}):
        ids = {d.source_id for d in deliveries if d.source_object == object_name}
        rows = await vault_read_by_ids(work.clients.ctms(), object_name, kinds[object_name].fields, ids)
        read.update({(object_name, i): row for i, row in rows.items()})
    return read


def _decide_all(
    deliveries: list[DeliveryRow],
    raws: Mapping[Key, Any],
    created: set[Key],
    kinds: dict[str, _Kind],
    names: CtmsNames,
    outcomes: dict[int, Outcome],
    sources: list[_Source],
) -> None:
    for d in deliveries:
        assert d.id is not None
        decided = _decide(d, raws.get(_key(d)), _key(d) in created, kinds, names)
        if isinstance(decided, Outcome):
            outcomes[d.id] = decided
        else:
            sources.append(decided)


def _decide(
    d: DeliveryRow, raw: Any, creation: bool, kinds: dict[str, _Kind], names: CtmsNames
) -> Outcome | _Source:
    """Create on a creation, update on an edit that sets the flag, else leave the activity alone."""
    kind = kinds.get(d.source_object)
    if kind is None:
        return Outcome.dead("UNSUPPORTED_OBJECT", f"{d.source_object} does not create Clinical Activities")
    if not isinstance(raw, Mapping) or not raw:
        return Outcome.dead("RECORD_NOT_FOUND", f"{d.source_object} {d.source_id} is no longer in the vault")
    try:
        if not should_sync_automated_activity("created" if creation else "updated", raw, kind.flag):
            return Outcome.unchanged(f"not a creation, and {kind.flag} is not set: nothing to do")
        upsert = kind.to_activity(raw, names)
        flagged = activity_update_required(raw, kind.flag, object_name=d.source_object)
    except MappingError as exc:
        return Outcome.dead(exc.code, exc.message)
    except ValueError as exc:  # a record the parser let through but the mapping cannot use
        return Outcome.dead("INVALID_RECORD", str(exc))
    return _Source(d, upsert, kind.flag if flagged else None)


async def _clear_flags(work: LaneWork, sources: list[_Source], outcomes: dict[int, Outcome]) -> None:
    """Set activity_update_required__v back to false where the activity now reflects the source.

    A clear that fails makes the delivery fail with it (retried or dead): writing the activity again is
    idempotent, while a flag left set would make the source's next edit update the activity again."""
    done = (DeliveryStatus.DELIVERED, DeliveryStatus.UNCHANGED)
    clears: list[tuple[int, TargetUpsert]] = []
    for s in sources:
        d = s.delivery
        assert d.id is not None
        if s.flag and outcomes[d.id].status in done:
            clears.append((d.id, clear_activity_update_required(d.source_object, d.source_id, s.flag)))
    if not clears:
        return
    ctms = work.clients.ctms()

    async def update(object_name: str, _id_field: str, records: list[dict[str, Any]]) -> Any:
        return await ctms.update(object_name, records)

    written = await write_all(update, ctms.target, MAX_BATCH, clears)
    by_id = {s.delivery.id: s.delivery for s in sources}
    for delivery_id, clear in clears:
        result, call = written[delivery_id]
        cleared = outcome_of_write(
            by_id[delivery_id], result, call, target_object=clear.object, link=lambda _: {}
        )
        if cleared.status != DeliveryStatus.DELIVERED:
            field = next(iter(clear.fields))
            cleared.error = f"the activity is written, but {field} could not be cleared: {cleared.error}"
            outcomes[delivery_id] = cleared
