"""Reconciliation and repair (issue 16), in this process against the simulators as HTTP servers: a world
loaded and delivered, then edited, deleted and added to by hand on both sides; a run reports each of
those drifts and nothing else; a dry run says what a repair would do and changes nothing; the repair
goes through the pipeline; after it (and the two fixes only a person can make) a run finds no drift."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.models import Drift
from app.repositories import reconciliations
from app.services.delivery.engine import drain_lane
from app.services.reconciliation.repair import repair, resync
from app.services.reconciliation.run import request_run, run_reconciliation
from app.services.transfer.initial_load import run_load
from tests.e2e.harness import World, account, activity, interactions, person, site, study
from tests.e2e.test_transfer import send_call
from tests.services.test_initial_load import start
from tests.services.test_pipeline import plan_and_drain

INTERACTION = "Vault_Clinical_Interaction_vod__c"


async def reconcile(resources: Resources) -> tuple[Any, list[Drift]]:
    async with resources.sessionmaker() as session, session.begin():
        run = await request_run(session, "test", timedelta(seconds=60))
    assert run.id is not None
    assert await run_reconciliation(resources, run.id) == "succeeded"
    async with resources.sessionmaker() as session:
        return await reconciliations.get(session, run.id), await reconciliations.drifts(session, run.id)


async def released(resources: Resources, status: str) -> None:
    """What the next Transfer run does with deliveries waiting in `status`: make them due, and drain them."""
    async with resources.sessionmaker() as session, session.begin():
        rows = await session.execute(
            text(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = now()"
                " WHERE status = :status RETURNING lane"
            ),
            {"status": status},
        )
        lanes = {r.lane for r in rows}
    for lane in lanes:
        await drain_lane(resources, lane)


def by_kind(drifts: list[Drift]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for d in drifts:
        found[d.kind].add(d.source_id)
    return dict(found)


async def test_a_run_reports_every_hand_made_drift_and_a_repair_leaves_none(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    vault = world.vault
    person_id = person(vault, "HCP-1")
    loner = person(vault, "HCP-2", last_name__sys="Alone")  # no account in the org: unmatched
    account_id = account(org, "HCP-1")
    study_id = study(vault)
    sites = [site(vault, study_id, name=f"Site {n}") for n in range(2)]
    acts = [
        activity(vault, person_id, study_id, site__v=sites[n % 2], subject__v=f"visit {n}")["id"]
        for n in range(6)
    ]
    waiting = activity(vault, loner, study_id, subject__v="no account yet")["id"]
    send_call(org, account_id, "call 0")  # becomes a Medical Activity: a link the other way
    await world.connect(clean_db, org)
    load_id = await start(resources)
    assert await run_load(resources, load_id) == "succeeded"
    await plan_and_drain(resources)
    assert len(interactions(org)) == 6

    run, drifts = await reconcile(resources)
    assert by_kind(drifts) == {"unmatched_person": {waiting}}  # a delivered world agrees with itself
    assert run.checked == 1 + 2 + 6 + 1  # study, sites, activities, the call's Medical Activity
    assert run.calls["ctms"] >= 1

    # by hand, in the CRM: an edit, a deletion, and a record carrying an id no CTMS record has
    crm = {r["Vault_Activity_ID_vod__c"]: r for r in interactions(org)}
    org.state.update_record(INTERACTION, crm[acts[0]]["Id"], {"Subject_vod__c": "edited in the CRM"})
    org.state.delete_record(INTERACTION, crm[acts[1]]["Id"])
    orphan = org.state.create_record(
        INTERACTION,
        {
            **{
                k: v for k, v in crm[acts[5]].items() if k.endswith("__c") and k != "Vault_Activity_ID_vod__c"
            },
            "Vault_Activity_ID_vod__c": "V6AORPHAN0000001",
        },
    )
    # by hand, in the CTMS (no webhooks reach the bridge): an edit, a deletion, a new record
    vault.user_update("crm_activity__v", acts[2], {"subject__v": "edited in the CTMS"})
    vault.user_delete("crm_activity__v", acts[3])
    added = activity(vault, person_id, study_id, subject__v="added in the CTMS")["id"]
    # the other way: a call sent to Vault Clinical that never arrived, a Medical Activity with no call
    unsent = send_call(org, account_id, "call 1")  # no webhook reaches the bridge in this world
    stray = activity(
        vault,
        person_id,
        study_id,
        kind="medical_activity__v",
        subject__v="typed in by hand",
        external_id__v=f"{org.connection_id}:a0B000000000XYZ",
    )["id"]

    run, drifts = await reconcile(resources)
    assert by_kind(drifts) == {
        "changed_in_target": {acts[0]},
        "missing_in_target": {acts[1], added, unsent},
        "in_target_without_source": {"V6AORPHAN0000001", "a0B000000000XYZ"},
        "changed_in_source": {acts[2]},
        "deleted_in_source": {acts[3]},
        "unmatched_person": {waiting},
    }
    [stray_drift] = [d for d in drifts if d.source_id == "a0B000000000XYZ"]
    assert (stray_drift.source_system, stray_drift.target_id) == ("crm", stray)
    assert _gauge("changed_in_target") == 1  # the metric holds the last run's counts
    assert _gauge("missing_in_target") == 3
    [changed] = [d for d in drifts if d.kind == "changed_in_target"]
    assert changed.fields == [
        {"field": "Subject_vod__c", "bridge_wrote": "visit 0", "target_has": "edited in the CRM"}
    ]
    assert run.counts == {k: len(v) for k, v in by_kind(drifts).items()}

    # a dry run says what would be done, and does nothing
    writes = len(org.state.calls.matching("PATCH"))
    async with resources.sessionmaker() as session, session.begin():
        plan = await repair(session, "test", run.id, dry_run=True)
    assert {(a["source_id"], a["action"]) for a in plan.actions} == {
        (acts[0], "resend"),
        (acts[1], "resend"),
        (added, "resend"),
        (acts[2], "resend"),
        (acts[3], "mark_deleted"),
        (unsent, "resend"),
    }
    assert {s["source_id"] for s in plan.skipped} == {"V6AORPHAN0000001", "a0B000000000XYZ", waiting}
    # exactly what will be written, where it is known before delivery: the source has not changed since
    # the bridge's last write, so the write is that write again
    will_write = {a["source_id"]: a.get("fields") for a in plan.actions if a["action"] == "resend"}
    assert will_write[acts[0]]["Subject_vod__c"] == "visit 0"
    assert will_write[acts[1]]["Subject_vod__c"] == "visit 1"
    assert will_write[acts[0]]["Clinical_Study_vod__c"] == crm[acts[0]]["Clinical_Study_vod__c"]
    assert (will_write[added], will_write[acts[2]], will_write[unsent]) == (None, None, None)  # at delivery
    async with clean_db.connect() as conn:
        assert (
            await conn.scalar(text("SELECT count(*) FROM inbox_events WHERE webhook_id LIKE 'repair:%'")) == 0
        )
    await plan_and_drain(resources)
    assert len(org.state.calls.matching("PATCH")) == writes

    async with resources.sessionmaker() as session, session.begin():
        applied = await repair(session, "test", run.id, dry_run=False)
    assert applied.events == 6
    await plan_and_drain(resources)
    now = {r["Vault_Activity_ID_vod__c"]: r for r in interactions(org)}
    assert now[acts[0]]["Subject_vod__c"] == "visit 0"  # the CRM edit is undone
    assert now[acts[1]]["Subject_vod__c"] == "visit 1"  # re-created
    assert now[added]["Subject_vod__c"] == "added in the CTMS"
    assert now[acts[2]]["Subject_vod__c"] == "edited in the CTMS"
    assert now[acts[3]]["Subject_vod__c"].endswith("Deleted")
    assert [
        r for r in vault.records_of("crm_activity__v") if r.get("subject__v") == "call 1"
    ]  # the call arrived

    # a second repair of the same run does nothing again: each drift is repaired once
    async with resources.sessionmaker() as session, session.begin():
        assert (await repair(session, "test", run.id, dry_run=False)).events == 0

    # what only a person can fix: the stray CRM record, and the missing account
    org.state.delete_record(INTERACTION, orphan["Id"])
    vault.user_delete("crm_activity__v", stray)
    account(org, "HCP-2")
    await released(resources, "unmatched")
    run, drifts = await reconcile(resources)
    assert drifts == []
    assert run.counts == {}
    assert _gauge("changed_in_target") == 0

    # a forced re-sync writes a record whatever its content hash says: an edit no run has seen yet is undone
    crm = {r["Vault_Activity_ID_vod__c"]: r for r in interactions(org)}
    org.state.update_record(INTERACTION, crm[acts[4]]["Id"], {"Subject_vod__c": "edited again"})
    writes = len(org.state.calls.matching("PATCH"))
    async with resources.sessionmaker() as session, session.begin():
        stored = await resync(
            session,
            "test",
            connection_id=str(org.connection_id),
            source_system="ctms",
            source_object="crm_activity__v",
            source_ids=[acts[4], acts[5]],
        )
    assert stored == 2
    await plan_and_drain(resources)
    # both written, the unchanged one too: the content hash was ignored
    assert sum(c.records for c in org.state.calls.matching("PATCH")[writes:]) == 2
    crm = {r["Vault_Activity_ID_vod__c"]: r for r in interactions(org)}
    assert crm[acts[4]]["Subject_vod__c"] == "visit 4"


def _gauge(kind: str) -> float:
    value = REGISTRY.get_sample_value("bridge_reconciliation_drifts", {"kind": kind})
    assert value is not None
    return value
