"""F5, F6, F7: CTMS Studies and Study Sites to Clinical Studies and Clinical Sites in one CRM connection.

Also serves "parents first": a site's study, and an activity's study and site, are pushed when the CRM
lacks them, before the child that references them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.clients.crm import CrmGateway, vault_read_by_ids
from app.clients.errors import ClientError
from app.domain.ctms import parse_ctms_site, parse_ctms_study
from app.domain.errors import MappingError
from app.domain.mapping.sites import site_deletion, site_to_clinical_site
from app.domain.mapping.studies import study_deletion, study_to_clinical_study
from app.domain.names import CrmNames
from app.domain.upsert import TargetUpsert
from app.models import Connection, Operation
from app.repositories import links as links_repo
from app.repositories.rows import DeliveryRow, LinkRow
from app.services.delivery.common import (
    ParentRef,
    already_marked_deleted,
    is_stale,
    keeping_decided,
    link_values,
    newest_per_record,
    send_all,
    tombstone,
    write_all,
)
from app.services.delivery.outcomes import Outcome
from app.services.delivery.work import LaneWork
from app.services.names import crm_names_for

STUDY_COUNTRY = "study_country__v"
COUNTRY_NAME = "name__v"


@dataclass
class Parents:
    """CRM ids of studies and sites by CTMS id, and why a parent could not be had."""

    studies: dict[str, str] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)
    failed: dict[str, Outcome] = field(default_factory=dict)


async def _links(
    work: LaneWork, conn: Connection, object_name: str, ids: Iterable[str]
) -> dict[str, LinkRow]:
    async with work.resources.sessionmaker() as session:
        return await links_repo.get_many(session, conn.id, "ctms", object_name, ids)


async def _save_links(work: LaneWork, values: list[dict[str, Any]]) -> None:
    async with work.resources.sessionmaker() as session, session.begin():
        for value in values:
            await links_repo.save(session, value)


async def ensure_parents(
    work: LaneWork, conn: Connection, names: CrmNames, *, study_ids: set[str], site_ids: set[str]
) -> Parents:
    """The CRM ids of these studies and sites, pushing the ones the CRM does not have yet."""
    ctms, ctms_names = work.clients.ctms(), work.ctms_names
    parents = Parents()
    site_links = await _links(work, conn, ctms_names.site.object, site_ids)
    parents.sites = {
        i: link.target_id for i, link in site_links.items() if link.target_id and not link.deleted
    }
    missing_sites = site_ids - parents.sites.keys()
    site_raws = (
        await vault_read_by_ids(
            ctms, ctms_names.site.object, ctms_names.site.fields.model_dump().values(), missing_sites
        )
        if missing_sites
        else {}
    )
    study_ids = study_ids | {
        str(raw.get(ctms_names.site.fields.study))
        for raw in site_raws.values()
        if raw.get(ctms_names.site.fields.study)
    }
    study_links = await _links(work, conn, ctms_names.study.object, study_ids)
    parents.studies = {
        i: link.target_id for i, link in study_links.items() if link.target_id and not link.deleted
    }
    missing_studies = study_ids - parents.studies.keys()
    if missing_studies:
        raws = await vault_read_by_ids(
            ctms, ctms_names.study.object, ctms_names.study.fields.model_dump().values(), missing_studies
        )
        pushed = await _push(
            work,
            conn,
            names,
            ctms_names.study.object,
            [(i, raws.get(i)) for i in sorted(missing_studies)],
            parents,
        )
        parents.studies.update(pushed)
    if missing_sites:
        pushed = await _push(
            work,
            conn,
            names,
            ctms_names.site.object,
            [(i, site_raws.get(i)) for i in sorted(missing_sites)],
            parents,
        )
        parents.sites.update(pushed)
    return parents


async def _country_names(work: LaneWork, raws: Iterable[dict[str, Any]], field_name: str) -> dict[str, str]:
    ids = {str(r[field_name]) for r in raws if r.get(field_name)}
    if not ids:
        return {}
    rows = await vault_read_by_ids(work.clients.ctms(), STUDY_COUNTRY, [COUNTRY_NAME], ids)
    return {i: str(row.get(COUNTRY_NAME)) for i, row in rows.items() if row.get(COUNTRY_NAME)}


async def _map(
    work: LaneWork,
    names: CrmNames,
    object_name: str,
    raws: list[tuple[str, dict[str, Any]]],
    parents: Parents,
) -> tuple[dict[str, TargetUpsert], dict[str, Outcome]]:
    ctms_names = work.ctms_names
    upserts: dict[str, TargetUpsert] = {}
    failed: dict[str, Outcome] = {}
    countries = (
        await _country_names(work, [r for _, r in raws], ctms_names.site.fields.study_country)
        if object_name == ctms_names.site.object
        else {}
    )
    for source_id, raw in raws:
        try:
            if object_name == ctms_names.study.object:
                upserts[source_id] = study_to_clinical_study(parse_ctms_study(raw, ctms_names), names)
                continue
            site = parse_ctms_site(raw, ctms_names)
            study_ref = parents.studies.get(site.study_id)
            if study_ref is None:
                failed[source_id] = parents.failed.get(site.study_id) or Outcome.again(
                    "PARENT_NOT_DELIVERED", f"the site's study {site.study_id} is not in the CRM yet"
                )
                continue
            country = countries.get(site.study_country_id or "")
            upserts[source_id] = site_to_clinical_site(site, names, study_ref, country)
        except MappingError as exc:
            failed[source_id] = Outcome.dead(exc.code, exc.message)
    return upserts, failed


async def _push(
    work: LaneWork,
    conn: Connection,
    names: CrmNames,
    object_name: str,
    raws: list[tuple[str, dict[str, Any] | None]],
    parents: Parents,
) -> dict[str, str]:
    """Push parent records now; their links are saved at once (they are records in their own right)."""
    present = [(i, r) for i, r in raws if r is not None]
    for i, r in raws:
        if r is None:
            parents.failed[i] = Outcome.dead(
                "PARENT_NOT_FOUND", f"{object_name} {i} was not found in the vault"
            )
    upserts, failed = await _map(work, names, object_name, present, parents)
    parents.failed.update(failed)
    gateway = work.clients.crm(conn)
    written = await write_all(
        gateway.upsert,
        gateway.target,
        gateway.max_batch,
        [(n, upserts[i]) for n, (i, _) in enumerate(present) if i in upserts],
    )
    pushed: dict[str, str] = {}
    links: list[dict[str, Any]] = []
    for n, (source_id, raw) in enumerate(present):
        if source_id not in upserts:
            continue
        result, _call = written[n]
        if isinstance(result, ClientError) or not result.ok or not result.id:
            code = result.code if isinstance(result, ClientError) else (result.error_code or "FAILURE")
            parents.failed[source_id] = Outcome.again(
                "PARENT_NOT_DELIVERED", f"{object_name} {source_id} could not be pushed first ({code})"
            )
            continue
        pushed[source_id] = result.id
        modified = raw.get("modified_date__v")
        values = link_values(
            ParentRef(object_name, source_id, _parse(modified)),
            source_system="ctms",
            connection_id=conn.id,
            target_object=upserts[source_id].object,
            target_id=result.id,
            upsert=upserts[source_id],
        )
        links.append(values)
    await _save_links(work, links)
    return pushed


def _parse(value: Any) -> Any:
    from app.domain.dates import parse_modified

    try:
        return parse_modified(value) if value else None
    except (ValueError, MappingError):
        return None


async def exists_in_crm(gateway: CrmGateway, upsert: TargetUpsert) -> bool:
    found = await gateway.find_by_field(upsert.object, upsert.id_field, [upsert.id_value])
    return bool(found.get(upsert.id_value))


@keeping_decided
async def handle_studies_or_sites(work: LaneWork, outcomes: dict[int, Outcome]) -> dict[int, Outcome]:
    """The lane of one connection's Clinical Studies, or of its Clinical Sites."""
    conn = work.connection(work.deliveries[0])
    if conn is None:
        return {
            d.id: Outcome.dead("CONNECTION_GONE", "the connection was deleted")
            for d in work.deliveries
            if d.id
        }
    names = crm_names_for(conn)
    ctms_names = work.ctms_names
    gateway = work.clients.crm(conn)
    keep, superseded = newest_per_record(work.deliveries)
    outcomes.update(superseded)
    object_name = keep[0].source_object
    links = await _links(work, conn, object_name, [d.source_id for d in keep])
    ups: list[DeliveryRow] = []
    to_write: list[tuple[int, TargetUpsert]] = []
    for d in keep:
        assert d.id is not None
        link = links.get(d.source_id)
        if is_stale(d, link):
            outcomes[d.id] = Outcome.stale("the CRM already has a newer version")
        elif d.operation in (Operation.DELETE_STUDY, Operation.DELETE_SITE):
            deletion = (
                study_deletion(d.source_id, names)
                if d.operation == Operation.DELETE_STUDY
                else site_deletion(d.source_id, names)
            )
            if already_marked_deleted(link):
                outcomes[d.id] = Outcome.unchanged("already marked Deleted in Vault Clinical")
            elif link is None and not await exists_in_crm(gateway, deletion):
                outcomes[d.id] = Outcome.unchanged(
                    "the CRM never had this record: nothing to mark",
                    tombstone(d, source_system="ctms", connection_id=conn.id, target_object=deletion.object),
                )
            else:
                to_write.append((d.id, deletion))
        else:
            ups.append(d)
    # thin events are read from the vault, in one query per 100 records
    raws = {d.source_id: work.event_data(d).get("record") for d in ups}
    thin = [i for i, r in raws.items() if not r]
    if thin:
        fields = (
            (ctms_names.study if object_name == ctms_names.study.object else ctms_names.site)
            .fields.model_dump()
            .values()
        )
        raws.update(await vault_read_by_ids(work.clients.ctms(), object_name, fields, thin))
    parents = Parents()
    if object_name == ctms_names.site.object:
        study_ids = {
            str(r.get(ctms_names.site.fields.study))
            for r in raws.values()
            if r and r.get(ctms_names.site.fields.study)
        }
        parents = await ensure_parents(work, conn, names, study_ids=study_ids, site_ids=set())
    present = [(d.source_id, raws[d.source_id]) for d in ups if raws.get(d.source_id)]
    upserts, failed = await _map(work, names, object_name, present, parents)  # type: ignore[arg-type]
    for d in ups:
        assert d.id is not None
        if not raws.get(d.source_id):
            outcomes[d.id] = Outcome.dead(
                "RECORD_NOT_FOUND", f"{object_name} {d.source_id} is no longer in the vault"
            )
        elif d.source_id in failed:
            outcomes[d.id] = failed[d.source_id]
        else:
            upsert = upserts[d.source_id]
            link = links.get(d.source_id)
            if link is not None and link.content_hash == upsert.content_hash() and not link.deleted:
                outcomes[d.id] = Outcome.unchanged(
                    "the CRM already has this content",
                    link_values(
                        d,
                        source_system="ctms",
                        connection_id=conn.id,
                        target_object=upsert.object,
                        target_id=link.target_id,
                        upsert=upsert,
                    ),
                )
            else:
                to_write.append((d.id, upsert))
    outcomes.update(
        await send_all(
            gateway.upsert,
            gateway.target,
            gateway.max_batch,
            to_write,
            keep,
            source_system="ctms",
            connection_id=lambda _d: conn.id,
            prior=lambda d: links.get(d.source_id),
            marks_deletion=lambda d: d.operation in (Operation.DELETE_STUDY, Operation.DELETE_SITE),
        )
    )
    return outcomes
