"""Issue 16: a forced re-sync by filter, "every activity of study X", as the source answers now, against the
simulators in-process: what matches is re-written whatever its content hash says, nothing else is."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.services.operator_errors import Invalid, Unavailable
from app.services.reconciliation import selection
from app.services.reconciliation.repair import resync_where
from app.simulators.common.faults import FaultSettings
from tests.e2e.harness import World, account, activity, interactions, person, study
from tests.e2e.test_transfer import send_call
from tests.services.test_pipeline import changed, plan_and_drain, store

INTERACTION = "Vault_Clinical_Interaction_vod__c"


async def by_filter(
    resources: Resources, org: Any, where: dict[str, Any], system: str = "ctms", obj: str = "crm_activity__v"
) -> int:
    async with resources.sessionmaker() as session, session.begin():
        return await resync_where(
            session,
            resources.clients,
            "test",
            connection_id=str(org.connection_id),
            source_system=system,
            source_object=obj,
            where=where,
        )


async def test_every_activity_of_one_study_is_rewritten_and_no_other(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org, vault = world.orgs[0], world.vault
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    person_id = person(vault, "HCP-1")
    account(org, "HCP-1")
    x, y = study(vault, "VVT485-301"), study(vault, "VVT485-302")
    of_x = [activity(vault, person_id, x, subject__v=f"x {n}") for n in range(3)]
    of_y = [activity(vault, person_id, y, subject__v=f"y {n}") for n in range(2)]
    await store(resources, *(changed(r) for r in of_x + of_y))
    await plan_and_drain(resources)
    for record in interactions(org):  # edited by hand in the CRM: no event tells the bridge
        org.state.update_record(INTERACTION, record["Id"], {"Subject_vod__c": "edited"})
    writes = len(org.state.calls.matching("PATCH"))

    assert await by_filter(resources, org, {"study__v": x}) == 3
    await plan_and_drain(resources)

    assert sum(c.records for c in org.state.calls.matching("PATCH")[writes:]) == 3
    subjects = {r["Vault_Activity_ID_vod__c"]: r["Subject_vod__c"] for r in interactions(org)}
    assert subjects == {
        **{r["id"]: r["subject__v"] for r in of_x},  # the source's version, over the hand edit
        **{r["id"]: "edited" for r in of_y},  # another study's: left as it is
    }
    # by the study's name, through the relationship, and two conditions at once
    assert await by_filter(resources, org, {"study__vr.name__v": "VVT485-302", "subject__v": "y 1"}) == 1
    async with clean_db.connect() as conn:
        audit = (
            await conn.execute(
                text("SELECT after FROM audit_log WHERE action = 'records.resync' ORDER BY id")
            )
        ).scalars()
        # which fields chose the records, never their values (a filter may name a person's email)
        assert [a["where_fields"] for a in audit] == [["study__v"], ["study__vr.name__v", "subject__v"]]


async def test_calls_of_one_account_are_resynced_only_when_sent_to_vault_clinical(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org)
    person(world.vault, "HCP-2")
    account_id = account(org, "HCP-2")
    sent = [send_call(org, account_id, f"call {n}") for n in range(2)]
    org.state.create_record("Call2_vod__c", {"Account_vod__c": account_id, "Subject_vod__c": "kept in CRM"})

    assert await by_filter(resources, org, {"Account_vod__c": account_id}, "crm", "Call2_vod__c") == 2
    async with clean_db.connect() as conn:
        ids = (await conn.execute(text("SELECT record_id FROM inbox_events ORDER BY record_id"))).scalars()
        assert list(ids) == sorted(sent)


async def test_a_filter_the_source_refuses_or_that_matches_too_much_changes_nothing(
    resources: Resources, world: World, clean_db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, vault = world.orgs[0], world.vault
    await world.connect(clean_db, org)
    person_id = person(vault, "HCP-3")
    study_id = study(vault)
    for n in range(3):
        activity(vault, person_id, study_id, subject__v=f"visit {n}")

    with pytest.raises(Invalid) as refused:
        await by_filter(resources, org, {"no_such_field__v": "x"})
    assert refused.value.code == "RESYNC_FILTER_REJECTED"
    assert "no_such_field__v" in refused.value.message  # the source's own words say what is wrong

    monkeypatch.setattr(selection, "MAX_RECORDS", 2)
    with pytest.raises(Invalid) as too_many:
        await by_filter(resources, org, {"study__v": study_id})
    assert too_many.value.code == "RESYNC_TOO_MANY"
    assert too_many.value.message.startswith("3 records match")

    for system, obj in (("crm", "Account"), ("ctms", "person__sys")):  # no source the bridge sends
        with pytest.raises(Invalid) as wrong_object:
            await by_filter(resources, org, {"name__v": "x"}, system, obj)
        assert wrong_object.value.code == "RESYNC_OBJECT_UNSUPPORTED"

    world.vault.faults.configure(FaultSettings(error_rate=1.0))  # the CTMS cannot answer now: try later
    with pytest.raises(Unavailable) as down:
        await by_filter(resources, org, {"study__v": study_id})
    assert down.value.code == "SOURCE_UNAVAILABLE"
    async with clean_db.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM inbox_events"))).scalar_one() == 0
        assert (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar_one() == 0
