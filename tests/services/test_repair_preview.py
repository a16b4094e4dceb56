"""Issue 16: a repair's dry run shows exactly what would be written, also for records whose write is not
known from the bridge's last one (changed since, or never written): delivery's own handlers run on the
re-sends with their writes captured, and nothing is sent, stored or changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.services.reconciliation.preview import placeholder, with_previews
from app.services.reconciliation.repair import repair
from app.services.transfer.initial_load import run_load
from tests.e2e.harness import World, account, activity, interactions, person, study
from tests.e2e.test_transfer import medical_activities, send_call
from tests.services.test_initial_load import start
from tests.services.test_pipeline import plan_and_drain
from tests.services.test_reconciliation import by_kind, reconcile

STATE = (
    "SELECT (SELECT count(*) FROM inbox_events), (SELECT count(*) FROM deliveries),"
    " (SELECT count(*) FROM record_links WHERE content_hash IS NULL), (SELECT count(*) FROM account_matches)"
)


async def state(engine: AsyncEngine) -> tuple[Any, ...]:
    async with engine.connect() as conn:
        return tuple((await conn.execute(text(STATE))).one())


async def test_a_dry_run_shows_the_writes_of_changed_and_never_written_records_and_sends_nothing(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org, vault = world.orgs[0], world.vault
    person_id = person(vault, "HCP-1")
    account_id = account(org, "HCP-1")
    study_id = study(vault, "VVT485-301")
    edited = activity(vault, person_id, study_id, subject__v="visit 0")["id"]
    await world.connect(clean_db, org)
    assert await run_load(resources, await start(resources)) == "succeeded"
    await plan_and_drain(resources)

    # by hand, with no webhook reaching the bridge: an edit in the CTMS, an activity in a study the CRM has
    # never seen, one for a person with no account, and a call sent to Vault Clinical
    vault.user_update("crm_activity__v", edited, {"subject__v": "edited in the CTMS"})
    new_study = study(vault, "VVT485-999")
    added = activity(vault, person_id, new_study, subject__v="added", channel__v="phone__v")["id"]
    loner = activity(vault, person(vault, "HCP-404"), study_id, subject__v="nobody")["id"]
    call = send_call(org, account_id, "call 1")
    run, drifts = await reconcile(resources)
    assert by_kind(drifts) == {
        "changed_in_source": {edited},
        "missing_in_target": {new_study, added, loner, call},
    }

    before = await state(clean_db)
    writes_before = (len(org.state.calls.matching("PATCH")), len(vault.calls.matching("POST", "/vobjects/")))
    async with resources.sessionmaker() as session, session.begin():
        plan = await repair(session, "test", run.id, dry_run=True)
    plan = await with_previews(
        resources, run.id, plan
    )  # as the API does, once the plan's transaction is over
    shown = {a["source_id"]: a for a in plan.actions}

    assert shown[edited]["would_be"] == "delivered"
    assert shown[edited]["fields"]["Subject_vod__c"] == "edited in the CTMS"
    assert shown[added]["fields"]["Subject_vod__c"] == "added"
    assert shown[added]["fields"]["Call_Channel_vod__c"] == "Phone_vod"
    # its study, new to the CRM, is written first (its own re-send), and cited by the id it will get
    assert shown[new_study]["fields"]["Name"] == "VVT485-999"
    assert shown[new_study]["fields"]["Vault_Study_ID_vod__c"] == new_study
    assert shown[added]["fields"]["Clinical_Study_vod__c"] == placeholder("Clinical_Study_vod__c", new_study)
    # nobody to write it to: what delivery would decide instead
    assert (shown[loner]["would_be"], shown[loner]["fields"]) == ("unmatched", None)
    # the other way: the Medical Activity the call would become
    assert shown[call]["fields"]["external_id__v"] == f"{org.connection_id}:{call}"
    assert shown[call]["fields"]["subject__v"] == "call 1"
    assert shown[call]["fields"]["person__v"] == person_id

    # the activity alone: its study, not part of this repair, is shown as the write delivery makes first
    async with resources.sessionmaker() as session, session.begin():
        alone = await repair(session, "test", run.id, dry_run=True, source_ids=[added])
    alone = await with_previews(resources, run.id, alone)
    [action] = alone.actions
    [first] = action["first_writes"]
    assert (first["object"], first["fields"]["Vault_Study_ID_vod__c"]) == ("Clinical_Study_vod__c", new_study)
    assert action["fields"]["Clinical_Study_vod__c"] == placeholder("Clinical_Study_vod__c", new_study)

    # nothing was sent anywhere, and the bridge's database is as it was
    after = (len(org.state.calls.matching("PATCH")), len(vault.calls.matching("POST", "/vobjects/")))
    assert after == writes_before
    assert await state(clean_db) == before
    assert [r for r in interactions(org) if r["Vault_Activity_ID_vod__c"] == added] == []

    # the repair then writes what the dry run showed
    async with resources.sessionmaker() as session, session.begin():
        await repair(session, "test", run.id, dry_run=False)
    await plan_and_drain(resources)
    now = {r["Vault_Activity_ID_vod__c"]: r for r in interactions(org)}
    for source_id in (edited, added):
        for name, value in shown[source_id]["fields"].items():
            if name != "Clinical_Study_vod__c":
                assert now[source_id][name] == value, name
    [med] = [m for m in medical_activities(world) if m["external_id__v"] == f"{org.connection_id}:{call}"]
    assert med["subject__v"] == "call 1"
