"""Reconciliation against a Vault CRM org (issue 16): Vault answers in its own spelling (picklists as
lists, datetimes with milliseconds), which is no drift; a hand edit and a hand deletion are."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.services.reconciliation.repair import repair
from app.services.transfer.initial_load import run_load
from tests.e2e.harness import World, activity, any_account, interactions, person, simulated_world, site, study
from tests.services.test_initial_load import start
from tests.services.test_pipeline import plan_and_drain
from tests.services.test_reconciliation import by_kind, reconcile

INTERACTION = "vault_clinical_interaction__v"


@pytest.fixture
def world() -> Iterator[World]:
    with simulated_world(salesforce_orgs=0, vault_crm_orgs=1) as world:
        yield world


async def test_vault_crm_spelling_is_no_drift_and_hand_changes_are(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    person_id = person(world.vault, "HCP-1")
    account_id = any_account(org, "HCP-1")
    study_id = study(world.vault)
    site_id = site(world.vault, study_id)
    acts = [
        activity(world.vault, person_id, study_id, site__v=site_id, subject__v=f"visit {n}")["id"]
        for n in range(3)
    ]
    await world.connect(clean_db, org)
    assert await run_load(resources, await start(resources)) == "succeeded"
    await plan_and_drain(resources)
    assert len(interactions(org)) == 3

    run, drifts = await reconcile(resources)
    assert drifts == []
    assert run.checked == 1 + 1 + 3
    assert run.calls[org.connection_id] >= 2  # targets read by id, then the orphan scan

    crm = {r["vault_activity_id__v"]: r for r in interactions(org)}
    org.state.user_update(INTERACTION, crm[acts[0]]["id"], {"subject__v": "edited in Vault CRM"})
    org.state.user_delete(INTERACTION, crm[acts[1]]["id"])
    world.vault.emitter.enabled = False  # gone on both sides, by hand: they agree, which is no drift
    world.vault.user_delete("crm_activity__v", acts[2])
    org.state.user_delete(INTERACTION, crm[acts[2]]["id"])
    org.state.emitter.enabled = False  # a call sent to Vault Clinical whose webhook was lost
    call = org.state.user_create(
        "call2__v",
        {"account__v": account_id, "call_date__v": "2026-11-19", "call_channel__v": "video__v",
         "subject__v": "sent, never arrived", "call2_status__v": "submitted__v"},
    )  # fmt: skip
    org.state.send_to_vault_clinical(str(call["id"]))
    run, drifts = await reconcile(resources)
    assert by_kind(drifts) == {
        "changed_in_target": {acts[0]},
        "missing_in_target": {acts[1], str(call["id"])},
    }
    [changed] = [d for d in drifts if d.kind == "changed_in_target"]
    assert [f["field"] for f in changed.fields] == ["subject__v"]

    # a Vault CRM call is read back by id, so its repair goes through like any other
    async with resources.sessionmaker() as session, session.begin():
        plan = await repair(session, "test", run.id, dry_run=False)
    assert plan.skipped == []
    assert plan.events == 3
    await plan_and_drain(resources)
    arrived = [
        r for r in world.vault.records_of("crm_activity__v") if r.get("subject__v") == "sent, never arrived"
    ]
    assert len(arrived) == 1
    _, drifts = await reconcile(resources)
    assert drifts == []
