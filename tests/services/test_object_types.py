"""Issue 14, point 1: a vault answers object types as ids (``OOT…``), and takes ids on writes. Driven
in-process (store → plan → drain, as in test_pipeline.py) against the Vault simulator, which models
types as a real vault does: a record's ``object_type__v`` is the type's id, the name is
``object_type__vr.api_name__v``, and a name where an id belongs is refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.domain.envelopes import validate_crm
from app.services import intake
from app.services.object_types import name_types, type_names
from app.services.object_types import type_id as bridge_type_id
from tests.e2e.harness import (
    World,
    account,
    activity,
    interactions,
    person,
    study,
    type_id,
    type_name,
)
from tests.services.test_pipeline import changed, plan_and_drain, statuses, store

ACTIVITY = "crm_activity__v"


async def _event_status(engine: AsyncEngine, record_id: str) -> tuple[str, str | None]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, error_code FROM inbox_events WHERE record_id = :id"), {"id": record_id}
            )
        ).one()
    return row.status, row.error_code


async def test_an_activity_whose_type_is_an_id_flows_to_the_crm(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    person_id = person(world.vault, "HCP-1")
    account(org, "HCP-1")
    record = activity(world.vault, person_id, study(world.vault), subject__v="by id")
    assert record["object_type__v"] == type_id(world.vault, "clinical_activity__v")
    assert record["object_type__v"].startswith("OOT")  # what a real vault sends, not clinical_activity__v

    await store(resources, changed(record))
    await plan_and_drain(resources)

    [interaction] = interactions(org)
    assert interaction["Vault_Activity_ID_vod__c"] == record["id"]
    assert interaction["Subject_vod__c"] == "by id"
    assert await statuses(clean_db) == ["delivered"]


async def test_the_types_are_read_once_per_vault_and_remembered(resources: Resources, world: World) -> None:
    client = resources.clients.ctms()
    await type_names(client, ACTIVITY, fresh=True)  # whatever earlier tests left is not relied on
    queries = len(world.vault.calls.matching("POST", "/query"))
    medical = type_id(world.vault, "medical_activity__v")

    assert await bridge_type_id(client, ACTIVITY, "medical_activity__v") == medical
    assert (await type_names(client, ACTIVITY))[medical] == "medical_activity__v"
    known = {"object_type__v": medical}
    await name_types(client, ACTIVITY, [known], ())
    assert len(world.vault.calls.matching("POST", "/query")) == queries  # all from memory
    assert known["object_type__vr.api_name__v"] == "medical_activity__v"

    unknown = {"object_type__v": "OOT000000099999"}  # a type added since: the table is read again, once
    await name_types(client, ACTIVITY, [unknown], ())
    assert len(world.vault.calls.matching("POST", "/query")) == queries + 1
    assert "object_type__vr.api_name__v" not in unknown  # still unknown: the mapping will name the id


async def test_an_echo_typed_by_id_is_not_sent_to_the_crm(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    person_id = person(world.vault, "HCP-3")
    account(org, "HCP-3")
    study_id = study(world.vault)
    # a Medical Activity whose event says only its type's id: the engine looks the name up (F9)
    by_type = activity(world.vault, person_id, study_id, kind="medical_activity__v")
    # one the bridge wrote (its external id names a connection): planning knows it without any I/O
    by_key = activity(
        world.vault,
        person_id,
        study_id,
        kind="medical_activity__v",
        external_id__v=f"{org.connection_id}:a0B1",
    )

    await store(resources, changed(by_type), changed(by_key))
    await plan_and_drain(resources)

    assert interactions(org) == []
    assert await statuses(clean_db) == ["unchanged"]  # by_type: planned, then recognized as an echo
    assert await _event_status(clean_db, by_key["id"]) == ("ignored", "ECHO_OF_OWN_WRITE")


async def test_a_crm_call_becomes_a_medical_activity_typed_by_id(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    person(world.vault, "HCP-4")
    account_id = account(org, "HCP-4")
    call = org.state.create_record(
        "Call2_vod__c",
        {
            "Account_vod__c": account_id,
            "Call_Date_vod__c": "2026-11-18",
            "Call_Channel_vod__c": "Email_vod",
            "Status_vod__c": "Submitted_vod",
            "Subject_vod__c": "Safety follow-up",
        },
    )
    data = org.state.send_call_to_vault(call["Id"])
    document = {"type": "crm.call.sent_to_vault", "timestamp": "2026-11-20T10:15:00Z", "data": data}
    await _store_crm(resources, org.connection_id, document)

    await plan_and_drain(resources)

    [medical] = [
        a for a in world.vault.records_of("crm_activity__v") if a["external_id__v"].endswith(call["Id"])
    ]
    assert medical["object_type__v"] == type_id(world.vault, "medical_activity__v")
    assert type_name(world.vault, medical) == "medical_activity__v"
    assert await statuses(clean_db) == ["delivered"]


async def _store_crm(resources: Resources, connection_id: str | None, document: dict[str, Any]) -> None:
    fields = validate_crm(document)
    async with resources.sessionmaker() as session, session.begin():
        await intake.store_event(
            session,
            source="crm",
            sender=f"crm:{connection_id}",
            connection_id=connection_id,
            webhook_id=f"msg_{fields.record_id}",
            document=document,
            type_=fields.type,
            object_=fields.object,
            record_id=fields.record_id,
            source_modified_at=fields.source_modified_at,
        )


async def test_thin_events_read_the_type_by_name(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    person_id = person(world.vault, "HCP-5")
    account(org, "HCP-5")
    study_id = study(world.vault)
    clinical = activity(world.vault, person_id, study_id, subject__v="thin")
    medical = activity(world.vault, person_id, study_id, kind="medical_activity__v")

    await store(resources, *(_thin(record) for record in (clinical, medical)))
    await plan_and_drain(resources)

    [interaction] = interactions(org)
    assert interaction["Vault_Activity_ID_vod__c"] == clinical["id"]
    assert sorted(await statuses(clean_db)) == ["delivered", "unchanged"]  # the medical one: an echo


def _thin(record: dict[str, Any]) -> dict[str, Any]:
    event = changed(record)
    del event["data"]["record"]
    return event
