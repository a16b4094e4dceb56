"""F1 and F2: CTMS Clinical Activities to Vault Clinical Interactions in one CRM connection."""

from __future__ import annotations

from typing import Any

from app.clients.crm import vault_read_by_ids
from app.domain.ctms import CtmsActivity, parse_ctms_activity, type_name_field
from app.domain.errors import MappingError
from app.domain.mapping.activities import clinical_activity_to_interaction, interaction_deletion
from app.domain.names import CtmsNames
from app.domain.upsert import TargetUpsert
from app.models import Operation
from app.repositories import links as links_repo
from app.repositories.rows import DeliveryRow
from app.services.delivery.common import (
    already_marked_deleted,
    is_stale,
    keeping_decided,
    link_maker,
    newest_per_record,
    send_all,
    tombstone,
)
from app.services.delivery.creators import creators
from app.services.delivery.matching import accounts_for_persons, match_pair
from app.services.delivery.outcomes import Outcome
from app.services.delivery.studies_sites import ensure_parents
from app.services.delivery.work import LaneWork
from app.services.names import crm_names_for
from app.services.object_types import name_types


@keeping_decided
async def handle_interactions(work: LaneWork, outcomes: dict[int, Outcome]) -> dict[int, Outcome]:
    conn = work.connection(work.deliveries[0])
    if conn is None:
        return {
            d.id: Outcome.dead("CONNECTION_GONE", "the connection was deleted")
            for d in work.deliveries
            if d.id
        }
    names = crm_names_for(conn)
    ctms_names = work.ctms_names
    ctms, gateway = work.clients.ctms(), work.clients.crm(conn)
    keep, superseded = newest_per_record(work.deliveries)
    outcomes.update(superseded)
    async with work.resources.sessionmaker() as session:
        links = await links_repo.get_many(
            session, conn.id, "ctms", ctms_names.activity.object, [d.source_id for d in keep]
        )
    to_write: list[tuple[int, TargetUpsert]] = []
    upserts: list[DeliveryRow] = []
    for d in keep:
        assert d.id is not None
        link = links.get(d.source_id)
        if is_stale(d, link):
            outcomes[d.id] = Outcome.stale("the CRM already has a newer version of this activity")
        elif d.operation == Operation.DELETE_INTERACTION:
            if link is None:
                outcomes[d.id] = Outcome.unchanged(
                    "this activity never reached the CRM: nothing to mark",
                    tombstone(
                        d,
                        source_system="ctms",
                        connection_id=conn.id,
                        target_object=names.interaction.object,
                    ),
                )
            elif already_marked_deleted(link):
                outcomes[d.id] = Outcome.unchanged("already marked Deleted")
            else:
                subject = link.last_fields.get(names.interaction.fields.subject)
                to_write.append(
                    (
                        d.id,
                        interaction_deletion(
                            d.source_id, subject if isinstance(subject, str) else None, names
                        ),
                    )
                )
        else:
            upserts.append(d)

    activities = await _activities(work, upserts, outcomes)
    pair = match_pair(conn, work.settings)
    async with work.resources.sessionmaker() as session:
        cached = await links_repo.cached_accounts(
            session, conn.id, [a.person_id for a in activities.values() if a.person_id]
        )
    accounts, learned = await accounts_for_persons(
        ctms,
        gateway,
        person_ids={a.person_id for a in activities.values() if a.person_id},
        cached={p: m.account_id for p, m in cached.items()},
        pair=pair,
        crm_names=names,
        ctms_names=ctms_names,
    )
    if learned:
        async with work.resources.sessionmaker() as session, session.begin():
            await links_repo.remember_accounts(session, conn.id, learned)
    parents = None
    if conn.sync_studies_and_sites:
        parents = await ensure_parents(
            work,
            conn,
            names,
            study_ids={a.study_id for a in activities.values() if a.study_id},
            site_ids={a.site_id for a in activities.values() if a.site_id},
        )
    users = await creators(
        work.clients.ctms(), {a.created_by_id for a in activities.values() if a.created_by_id}, ctms_names
    )

    for d in upserts:
        assert d.id is not None
        activity = activities.get(d.id)
        if activity is None:
            continue  # its outcome is set already (echo, not found, or a mapping error)
        if activity.person_id in accounts.failures:
            outcomes[d.id] = accounts.failures[activity.person_id]
            continue
        if parents is not None:
            blocked = parents.failed.get(activity.site_id or "") or parents.failed.get(
                activity.study_id or ""
            )
            if blocked is not None:
                outcomes[d.id] = blocked
                continue
        try:
            upsert = clinical_activity_to_interaction(
                activity,
                names=names,
                account_id=accounts.ids.get(activity.person_id or "", ""),
                study_ref=parents.studies.get(activity.study_id or "") if parents else None,
                site_ref=parents.sites.get(activity.site_id or "") if parents else None,
                created_by=users.get(activity.created_by_id or ""),
                sync_studies_and_sites=conn.sync_studies_and_sites,
            )
        except (MappingError, ValueError) as exc:
            code = exc.code if isinstance(exc, MappingError) else "PERSON_MISSING"
            outcomes[d.id] = Outcome.dead(code, exc.message if isinstance(exc, MappingError) else str(exc))
            continue
        link = links.get(d.source_id)
        if link is not None and not link.deleted and link.content_hash == upsert.content_hash():
            outcomes[d.id] = Outcome.unchanged(
                "the CRM already has this content",
                link_maker(d, source_system="ctms", connection_id=conn.id, upsert=upsert, prior=link)(
                    link.target_id
                ),
            )
        else:
            to_write.append((d.id, upsert))

    sent = await send_all(
        gateway.upsert,
        gateway.target,
        gateway.max_batch,
        to_write,
        keep,
        source_system="ctms",
        connection_id=lambda _d: conn.id,
        prior=lambda d: links.get(d.source_id),
        marks_deletion=lambda d: d.operation == Operation.DELETE_INTERACTION,
    )
    outcomes.update(sent)
    await _forget_gone_accounts(
        work, conn.id, sent, outcomes, activities, set(cached), names.interaction.fields.account
    )
    return outcomes


ACCOUNT_GONE = frozenset({"INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED"})  # Salesforce's codes


def _account_gone(outcome: Outcome, account_field: str) -> bool:
    """Salesforce names a missing reference by code; Vault (Vault CRM) answers INVALID_DATA and names the
    field whose value is no record (``… for field [account__v] …``)."""
    if outcome.error_code in ACCOUNT_GONE:
        return True
    return outcome.error_code == "INVALID_DATA" and f"[{account_field}]" in (outcome.error or "")


async def _forget_gone_accounts(
    work: LaneWork,
    connection_id: str,
    sent: dict[int, Outcome],
    outcomes: dict[int, Outcome],
    activities: dict[int, CtmsActivity],
    cached: set[str],
    account_field: str,
) -> None:
    """A write refused because a referenced record is gone, for a person whose account came from the
    cache: the account was most likely merged or deleted in the CRM. Drop the match and try again, so
    the next attempt matches afresh (a fresh match that fails the same way is a dead letter, as before)."""
    gone = {
        delivery_id: activities[delivery_id].person_id
        for delivery_id, outcome in sent.items()
        if _account_gone(outcome, account_field)
        and delivery_id in activities
        and activities[delivery_id].person_id in cached
    }
    if not gone:
        return
    async with work.resources.sessionmaker() as session, session.begin():
        await links_repo.forget_person_accounts(session, connection_id, [p for p in gone.values() if p])
    for delivery_id in gone:
        refused = sent[delivery_id]
        outcomes[delivery_id] = Outcome.again(
            refused.error_code or "ACCOUNT_GONE",
            f"{refused.error}; the cached account match was dropped: the next attempt matches the person again",
            retry_after=0.0,
            call=refused.call,
        )


async def _activities(
    work: LaneWork, deliveries: list[DeliveryRow], outcomes: dict[int, Outcome]
) -> dict[int, CtmsActivity]:
    """Parse each activity, reading the thin ones from the vault; echoes and bad records get outcomes.
    Records carried by their events are judged first, so a data error is decided before any call fails."""
    ctms_names = work.ctms_names
    raws: dict[str, dict[str, Any] | None] = {  # copies: naming a type must not touch the stored event
        d.source_id: dict(r) if isinstance(r := work.event_data(d).get("record"), dict) else r
        for d in deliveries
    }
    thin = {i for i, r in raws.items() if not r}
    parsed: dict[int, CtmsActivity] = {}
    activity = ctms_names.activity
    # an event's record names its type by id (a real vault's answer): look the name up, so the mapping
    # and the echo rule (a Medical Activity is our own write, F9) judge it by name
    await name_types(
        work.clients.ctms(),
        activity.object,
        [r for i, r in raws.items() if i not in thin],
        ctms_names.picklists.object_type.values(),
        field=activity.fields.object_type,
    )
    _parse_into(parsed, outcomes, [d for d in deliveries if d.source_id not in thin], raws, ctms_names)
    if thin:  # the read asks the vault for the type's name beside its id
        fields = [*activity.fields.model_dump().values(), type_name_field(activity.fields.object_type)]
        raws.update(await vault_read_by_ids(work.clients.ctms(), activity.object, fields, thin))
        _parse_into(parsed, outcomes, [d for d in deliveries if d.source_id in thin], raws, ctms_names)
    return parsed


def _parse_into(
    parsed: dict[int, CtmsActivity],
    outcomes: dict[int, Outcome],
    deliveries: list[DeliveryRow],
    raws: dict[str, dict[str, Any] | None],
    ctms_names: CtmsNames,
) -> None:
    for d in deliveries:
        assert d.id is not None
        raw = raws.get(d.source_id)
        if not raw:
            outcomes[d.id] = Outcome.dead(
                "RECORD_NOT_FOUND", f"activity {d.source_id} is no longer in the vault"
            )
            continue
        try:
            activity = parse_ctms_activity(raw, ctms_names)
        except MappingError as exc:
            outcomes[d.id] = Outcome.dead(exc.code, exc.message)
            continue
        if activity.kind == "medical_activity":
            outcomes[d.id] = Outcome.unchanged(
                "a Medical Activity: the bridge's own write, not sent back (F9)"
            )
            continue
        parsed[d.id] = activity
