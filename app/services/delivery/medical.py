"""F3 and F4: CRM calls sent to Vault Clinical become Medical Activities in the CTMS; deleted calls make
them inactive (when the Transfer job releases the deletion). Calls from every connection share this lane:
they all land in the one vault object, in batches of up to 500."""

from __future__ import annotations

from typing import Any

from app.clients.crm import CrmGateway, SalesforceGateway, VaultCrmGateway
from app.clients.errors import ClientError
from app.clients.vault import MAX_BATCH
from app.domain.crm import CrmCall, parse_crm_call
from app.domain.errors import MappingError
from app.domain.mapping.activities import crm_call_to_medical_activity, medical_activity_inactivation
from app.domain.mapping.echo import is_crm_record_echo
from app.domain.names import CrmNames, CtmsNames
from app.domain.upsert import TargetUpsert
from app.models import Connection, Operation
from app.repositories import links as links_repo
from app.repositories.rows import DeliveryRow, LinkRow
from app.services.delivery.common import (
    already_marked_deleted,
    is_stale,
    newest_per_record,
    send_all,
    tombstone,
)
from app.services.delivery.matching import match_pair, persons_for_identifiers
from app.services.delivery.outcomes import Outcome
from app.services.delivery.work import LaneWork
from app.services.names import crm_names_for
from app.services.object_types import with_type_ids
from app.services.transfer.catchup import read_salesforce_calls, read_vault_crm_calls


async def handle_medical_activities(work: LaneWork) -> dict[int, Outcome]:
    ctms_names = work.ctms_names
    keep, outcomes = newest_per_record(work.deliveries)
    to_write: list[tuple[int, TargetUpsert]] = []
    by_connection: dict[str, list[DeliveryRow]] = {}
    for d in keep:
        by_connection.setdefault(d.connection_id or "", []).append(d)
    links: dict[tuple[str, str], LinkRow] = {}
    for connection_id, group in by_connection.items():
        conn = work.connections.get(connection_id)
        if conn is None:
            outcomes.update(
                {d.id: Outcome.dead("CONNECTION_GONE", "the connection was deleted") for d in group if d.id}
            )
            continue
        names = crm_names_for(conn)
        async with work.resources.sessionmaker() as session:
            found = await links_repo.get_many(
                session, conn.id, "crm", group[0].source_object, [d.source_id for d in group]
            )
        links.update({(conn.id, k): v for k, v in found.items()})
        await _plan_connection(work, conn, names, ctms_names, group, found, outcomes, to_write)

    ctms = work.clients.ctms()
    try:  # the mapping names the type (medical_activity__v); a vault takes its id
        typed = await with_type_ids(
            ctms,
            [u for _, u in to_write],
            object_name=ctms_names.activity.object,
            field=ctms_names.activity.fields.object_type,
        )
    except ClientError as exc:
        outcomes.update({delivery_id: Outcome.from_error(exc) for delivery_id, _ in to_write})
        return outcomes
    to_write = [(delivery_id, u) for (delivery_id, _), u in zip(to_write, typed, strict=True)]

    async def upsert(object_name: str, id_field: str, records: list[dict[str, Any]]) -> Any:
        return await ctms.upsert(object_name, records, id_field)

    outcomes.update(
        await send_all(
            upsert,
            ctms.target,
            MAX_BATCH,
            to_write,
            keep,
            source_system="crm",
            connection_id=lambda d: d.connection_id or "",
            prior=lambda d: links.get((d.connection_id or "", d.source_id)),
            marks_deletion=lambda d: d.operation == Operation.INACTIVATE_MEDICAL_ACTIVITY,
        )
    )
    return outcomes


async def _plan_connection(
    work: LaneWork,
    conn: Connection,
    names: CrmNames,
    ctms_names: CtmsNames,
    group: list[DeliveryRow],
    links: dict[str, LinkRow],
    outcomes: dict[int, Outcome],
    to_write: list[tuple[int, TargetUpsert]],
) -> None:
    calls: dict[int, CrmCall] = {}
    read = await _read_thin_calls(work, conn, names, group, outcomes)
    for d in group:
        assert d.id is not None
        if d.id in outcomes:
            continue  # a thin call that could not be read: its outcome says why
        link = links.get(d.source_id)
        if is_stale(d, link):
            outcomes[d.id] = Outcome.stale("the vault already has a newer version of this call")
        elif d.operation == Operation.INACTIVATE_MEDICAL_ACTIVITY:
            if link is None:
                outcomes[d.id] = Outcome.unchanged(
                    "this call never reached the vault: nothing to inactivate",
                    tombstone(
                        d,
                        source_system="crm",
                        connection_id=conn.id,
                        target_object=ctms_names.activity.object,
                    ),
                )
            elif already_marked_deleted(link):
                outcomes[d.id] = Outcome.unchanged("already inactive")
            else:
                to_write.append((d.id, medical_activity_inactivation(conn.id, d.source_id, ctms_names)))
        else:
            data = work.event_data(d)
            raw = (
                read.get(d.source_id, read.get(d.source_id[:15])) if data.get("thin") else data.get("record")
            )
            if data.get("thin") and raw is None:
                outcomes[d.id] = Outcome.dead(
                    "CALL_NOT_FOUND",
                    "the org has no such call sent to Vault Clinical (deleted since, or its flag is not set)",
                )
            elif not isinstance(raw, dict):
                outcomes[d.id] = Outcome.dead("RECORD_MISSING", "the event carries no call record")
            elif is_crm_record_echo(raw, names):
                outcomes[d.id] = Outcome.unchanged("an object the bridge writes: its own echo (F9)")
            else:
                try:
                    calls[d.id] = parse_crm_call(raw, names.platform, names)
                except (MappingError, ValueError) as exc:
                    code = exc.code if isinstance(exc, MappingError) else "INVALID_RECORD"
                    outcomes[d.id] = Outcome.dead(
                        code, exc.message if isinstance(exc, MappingError) else str(exc)
                    )
    if not calls:
        return
    pair = match_pair(conn, work.settings)
    try:
        identifiers = await _account_identifiers(work.clients.crm(conn), names, pair.crm_account_field, calls)
        persons = await persons_for_identifiers(
            work.clients.ctms(), identifiers=set(identifiers.values()), pair=pair, ctms_names=ctms_names
        )
    except ClientError as exc:
        outcomes.update({delivery_id: Outcome.from_error(exc) for delivery_id in calls})
        return
    for delivery_id, call in calls.items():
        value = identifiers.get(call.account_id)
        if value is None:
            outcomes[delivery_id] = Outcome.unmatched(
                "ACCOUNT_IDENTIFIER_MISSING", f"account {call.account_id} has no {pair.crm_account_field}"
            )
        elif value in persons.failures:
            outcomes[delivery_id] = persons.failures[value]
        else:
            to_write.append(
                (
                    delivery_id,
                    crm_call_to_medical_activity(
                        call, connection_id=conn.id, person_id=persons.ids[value], ctms_names=ctms_names
                    ),
                )
            )


async def _read_thin_calls(
    work: LaneWork, conn: Connection, names: CrmNames, group: list[DeliveryRow], outcomes: dict[int, Outcome]
) -> dict[str, dict[str, Any]]:
    """Calls announced without their record (Salesforce Outbound Messages), read from the org in one query
    with their account's identifier and their creator, as the Transfer job's catch-up reads them."""
    thin = [
        d
        for d in group
        if d.operation != Operation.INACTIVATE_MEDICAL_ACTIVITY and work.event_data(d).get("thin")
    ]
    if not thin:
        return {}
    gateway = work.clients.crm(conn)
    identifier = match_pair(conn, work.settings).crm_account_field
    ids = sorted({d.source_id for d in thin})
    try:
        if isinstance(gateway, SalesforceGateway):
            return await read_salesforce_calls(gateway, names, identifier, ids)
        if isinstance(gateway, VaultCrmGateway):
            return await read_vault_crm_calls(gateway, names, identifier, ids)
        raise TypeError(f"no read-back of calls for {type(gateway).__name__}")
    except ClientError as exc:
        for d in thin:
            assert d.id is not None
            outcomes[d.id] = Outcome.from_error(exc)
        return {}


async def _account_identifiers(
    gateway: CrmGateway, names: CrmNames, field: str, calls: dict[int, CrmCall]
) -> dict[str, str]:
    """Account id → identifier value: from the webhook payload when it carries it, else one query."""
    known: dict[str, str] = {}
    for call in calls.values():
        value = call.account_identifier(field)
        if value is not None:
            known[call.account_id] = value
    missing = [c.account_id for c in calls.values() if c.account_id not in known]
    if missing:
        read = await gateway.read_field(names.account.object, field, missing)
        known.update({k: v for k, v in read.items() if v})
    return known
