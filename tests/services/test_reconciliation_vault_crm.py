"""Reconciliation against a Vault CRM org (issue 16): Vault answers in its own spelling (picklists as
lists, datetimes with milliseconds), which is no drift; a hand edit and a hand deletion are."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
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
    any_account(org, "HCP-1")
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
    _, drifts = await reconcile(resources)
    assert by_kind(drifts) == {"changed_in_target": {acts[0]}, "missing_in_target": {acts[1]}}
    [changed] = [d for d in drifts if d.kind == "changed_in_target"]
    assert [f["field"] for f in changed.fields] == ["subject__v"]
