"""Issue 16: F8's links (a Monitoring Event and the activity made for it, both in the CTMS) are compared
too. The activity follows its source only when the source asks (activity_update_required__v); a request
that never arrived is a drift a repair fixes, an activity edited by hand is none."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.services.reconciliation.preview import with_previews
from app.services.reconciliation.repair import repair
from tests.e2e.harness import World, activities_for, automation_switches, monitoring_event, person, study
from tests.services.test_pipeline import plan_and_drain, store
from tests.services.test_reconciliation import by_kind, reconcile

EVENT = "monitoring_event__v"


def created(record: dict[str, Any]) -> dict[str, Any]:
    """The vault's creation event of a source record, whole record included."""
    data = {"object": EVENT, "id": record["id"], "modified_date__v": record["modified_date__v"]}
    return {
        "type": "ctms.record.created",
        "timestamp": record["modified_date__v"],
        "data": {**data, "record": record},
    }


async def test_an_update_the_source_asked_for_and_never_got_is_reported_and_repaired(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    vault = world.vault
    await automation_switches(clean_db, monitoring_events=True)
    person_id, study_id = person(vault, "HCP-1"), study(vault)
    asked, edited = (monitoring_event(vault, person_id, study_id, name__v=f"IMV {n}") for n in (1, 2))
    await store(resources, created(asked), created(edited))
    await plan_and_drain(resources)
    [activity] = activities_for(vault, asked["id"])
    [by_hand] = activities_for(vault, edited["id"])
    run, drifts = await reconcile(resources)
    assert drifts == []

    # behind the bridge's back: the visit is held and the event asks its activity to follow; someone
    # edits the other event's activity in the CTMS (F8 leaves it to people after its creation)
    vault.user_update(EVENT, asked["id"], {"name__v": "IMV 1 (held)", "activity_update_required__v": True})
    vault.user_update("crm_activity__v", by_hand["id"], {"subject__v": "typed by a monitor"})
    run, drifts = await reconcile(resources)
    assert by_kind(drifts) == {"changed_in_source": {asked["id"]}}
    [drift] = drifts
    assert (drift.connection_id, drift.target_id) == ("ctms", activity["id"])

    async with resources.sessionmaker() as session, session.begin():
        plan = await repair(session, "test", run.id, dry_run=True)
    plan = await with_previews(
        resources, run.id, plan
    )  # as the API does, once the plan's transaction is over
    [action] = plan.actions
    assert action["fields"]["subject__v"] == "IMV 1 (held)"  # the activity as it would be written
    [then] = action["then_writes"]  # and then the request marked as met
    assert (then["object"], then["fields"]["activity_update_required__v"]) == (EVENT, False)
    assert activities_for(vault, asked["id"])[0]["subject__v"] == "IMV 1"  # a dry run writes nothing

    async with resources.sessionmaker() as session, session.begin():
        await repair(session, "test", run.id, dry_run=False)
    await plan_and_drain(resources)
    assert activities_for(vault, asked["id"])[0]["subject__v"] == "IMV 1 (held)"
    assert vault.get(EVENT, asked["id"])["activity_update_required__v"] is False  # the request is met
    assert activities_for(vault, edited["id"])[0]["subject__v"] == "typed by a monitor"
    run, drifts = await reconcile(resources)
    assert drifts == []
