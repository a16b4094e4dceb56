"""Issue 14 point 2: the CTMS names are the vault's, not ours. Overrides in the global settings
(`ctms_names`) are what planning and delivery read: an activity object the vault calls otherwise is
planned, and a phase value the vault has of its own is mapped as the override says."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.models import Connection, GlobalSettings, InboxEvent
from app.services import planning, settings_admin
from tests.e2e.harness import World, study
from tests.services.test_pipeline import plan_and_drain, store

RENAMED = {"activity": {"object": "clinical_interaction__c"}}


def event(object_: str) -> InboxEvent:
    return InboxEvent(
        id=1, sender="ctms", webhook_id="msg_1", source="ctms", type="ctms.record.updated",
        object=object_, record_id="V6A000000000001", payload={},
    )  # fmt: skip


def test_an_activity_object_the_vault_names_otherwise_is_planned() -> None:
    settings = GlobalSettings(ctms_names=RENAMED)
    active = [Connection(id="conn_a", name="A", platform="salesforce", active=True)]
    [planned] = planning.plan_ctms(event("clinical_interaction__c"), active, settings)
    assert (planned.operation, planned.connection_id) == ("upsert_interaction", "conn_a")
    assert planning.plan_ctms(event("crm_activity__v"), active, settings) == []  # not this vault's name
    code, _why = planning.ignore_reason(event("crm_activity__v"), active, {"conn_a": active[0]}, settings)
    assert code == "OBJECT_NOT_SYNCED"
    assert planning.plan_ctms(event("crm_activity__v"), active, GlobalSettings()) != []  # the default


def study_event(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "ctms.record.updated",
        "timestamp": record["modified_date__v"],
        "data": {
            "object": "study__v",
            "id": record["id"],
            "modified_date__v": record["modified_date__v"],
            "record": record,
        },
    }


async def test_a_phase_mapped_in_the_settings_reaches_the_crm_as_mapped(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org)
    # this sponsor's vault uses phase 4 for what its CRM records as phase 3 (a whole table replaces the default)
    phases = {
        "phase_1__v": "phase_1",
        "phase_2__v": "phase_2",
        "phase_3__v": "phase_3",
        "phase_4__v": "phase_3",
    }
    async with resources.sessionmaker() as session, session.begin():
        await settings_admin.update(session, {"ctms_names": {"picklists": {"phase": phases}}}, actor="test")
    study_id = study(world.vault, phase__v="phase_4__v")
    await store(
        resources, study_event(world.vault.present("study__v", world.vault.get("study__v", study_id) or {}))
    )
    await plan_and_drain(resources)

    [crm_study] = org.state.list_records("Clinical_Study_vod__c")
    assert crm_study["Phase_vod__c"] == "Phase_3_vod"
