"""Issue 16: the marks the bridge leaves for deletions (F2's "Deleted" subject, F7's status, F4's inactive
Medical Activity) are compared too: one undone by hand is reported, and a repair puts it back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.services.reconciliation.repair import repair
from app.services.transfer.initial_load import run_load
from tests.e2e.harness import World, account, activity, interactions, person, site, study
from tests.e2e.test_transfer import medical_activities, send_call, status_of
from tests.services.test_initial_load import start
from tests.services.test_pipeline import plan_and_drain
from tests.services.test_reconciliation import by_kind, reconcile, released

INTERACTION, CLINICAL_SITE = "Vault_Clinical_Interaction_vod__c", "Clinical_Site_vod__c"
OLD_STYLE_LINKS = (  # the content from before the deletion, with no mark in it
    "UPDATE record_links SET last_fields = jsonb_set(last_fields, '{Subject_vod__c}', to_jsonb('visit 0'::text))"
    " WHERE deleted AND last_fields ? 'Subject_vod__c'",
    "UPDATE record_links SET last_fields = last_fields - 'Status_vod__c' - 'status__v' WHERE deleted",
)


async def repaired(resources: Resources, run_id: int) -> None:
    """Repair everything, then deliver it as the worker and the next Transfer run would."""
    async with resources.sessionmaker() as session, session.begin():
        await repair(session, "test", run_id, dry_run=False)
    await plan_and_drain(resources)
    await released(resources, "awaiting_transfer")  # F4 waits for a Transfer run


def only(rows: list[dict[str, Any]]) -> dict[str, Any]:
    [row] = rows
    return row


async def test_a_deletion_mark_undone_by_hand_is_reported_and_repaired(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org, vault = world.orgs[0], world.vault
    person_id = person(vault, "HCP-1")
    account_id = account(org, "HCP-1")
    study_id = study(vault)
    site_id = site(vault, study_id)
    act = activity(vault, person_id, study_id, site__v=site_id, subject__v="visit 0")["id"]
    call = send_call(org, account_id, "call 0")
    await world.connect(clean_db, org)
    load_id = await start(resources)
    assert await run_load(resources, load_id) == "succeeded"
    await plan_and_drain(resources)

    # deleted at their sources (no webhook reaches the bridge here): a run finds them, a repair marks them
    vault.user_delete("crm_activity__v", act)
    vault.user_delete("site__v", site_id)
    org.state.delete_record("Call2_vod__c", call)
    run, drifts = await reconcile(resources)
    assert by_kind(drifts) == {"deleted_in_source": {act, site_id, call}}
    await repaired(resources, run.id)
    assert only(interactions(org))["Subject_vod__c"] == "visit 0 Deleted"
    assert (
        only(list(org.state.list_records(CLINICAL_SITE)))["Status_vod__c"] == "Deleted_in_Vault_Clinical_vod"
    )
    assert status_of(only(medical_activities(world))) == "inactive__v"
    run, drifts = await reconcile(resources)
    assert drifts == []  # the marks are there: both sides agree

    # links marked before the bridge kept the mark in their last fields (an upgrade) still agree, and
    # an edit by hand of anything but the mark is no drift
    async with clean_db.begin() as conn:
        for statement in OLD_STYLE_LINKS:
            await conn.execute(text(statement))
    org.state.update_record(
        INTERACTION, only(interactions(org))["Id"], {"Interaction_Date_vod__c": "2026-12-01"}
    )
    run, drifts = await reconcile(resources)
    assert drifts == []

    # by hand: the subject's mark removed, the site and the Medical Activity made active again
    org.state.update_record(INTERACTION, only(interactions(org))["Id"], {"Subject_vod__c": "visit 0"})
    clinical_site = only(list(org.state.list_records(CLINICAL_SITE)))
    org.state.update_record(CLINICAL_SITE, clinical_site["Id"], {"Status_vod__c": "Active_vod"})
    vault.user_update("crm_activity__v", only(medical_activities(world))["id"], {"status__v": "active__v"})
    run, drifts = await reconcile(resources)
    assert by_kind(drifts) == {"deleted_in_source": {act, site_id, call}}
    fields = {d.source_id: d.fields for d in drifts}
    assert fields[act] == [
        {"field": "Subject_vod__c", "bridge_wrote": "visit 0 Deleted", "target_has": "visit 0"}
    ]
    assert fields[site_id] == [
        {
            "field": "Status_vod__c",
            "bridge_wrote": "Deleted_in_Vault_Clinical_vod",
            "target_has": "Active_vod",
        }
    ]
    assert [f["field"] for f in fields[call]] == ["status__v"]
    async with resources.sessionmaker() as session, session.begin():  # a dry run shows the marks it writes
        plan = await repair(session, "test", run.id, dry_run=True)
    assert {a["source_id"]: a["fields"] for a in plan.actions} == {
        act: {"Subject_vod__c": "visit 0 Deleted"},
        site_id: {"Status_vod__c": "Deleted_in_Vault_Clinical_vod"},
        call: {"status__v": "inactive__v"},
    }

    await repaired(resources, run.id)
    assert only(interactions(org))["Subject_vod__c"] == "visit 0 Deleted"  # marked once, not twice
    assert (
        only(list(org.state.list_records(CLINICAL_SITE)))["Status_vod__c"] == "Deleted_in_Vault_Clinical_vod"
    )
    assert status_of(only(medical_activities(world))) == "inactive__v"
    run, drifts = await reconcile(resources)
    assert drifts == []
