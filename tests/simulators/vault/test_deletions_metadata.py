"""Deleted record ids (with date windows, paging, 30-day retention) and object metadata."""

from __future__ import annotations

import pytest

from app.simulators.vault import FieldDef, FieldType, SchemaRegistry, crm_schema, ctms_schema, define_object
from tests.simulators.vault.conftest import Clock, Vault, person

DELETIONS = "/objects/deletions/vobjects/crm_activity__v"


def _activities(vault: Vault, n: int, clock: Clock) -> list[str]:
    ids = []
    for i in range(n):
        ids.append(vault.state.user_create("crm_activity__v", {"external_id__v": f"A-{i}"})["id"])
    for record_id in ids:
        clock.advance(hours=1)
        vault.state.user_delete("crm_activity__v", record_id)
    return ids


async def test_deleted_ids_with_dates_in_a_window(clocked_vault: Vault, clock: Clock) -> None:
    vault = clocked_vault
    ids = _activities(vault, 3, clock)  # deleted at 11:00, 12:00, 13:00
    await vault.login()

    everything = await vault.get(DELETIONS)
    window = await vault.get(
        DELETIONS, params={"start_date": "2026-11-20T11:30:00Z", "end_date": "2026-11-20T12:30:00Z"}
    )

    assert everything["responseStatus"] == "SUCCESS"
    assert everything["responseDetails"] == {"total": 3, "size": 3, "limit": 1000, "offset": 0}
    assert everything["data"] == [
        {"id": ids[0], "date_deleted": "2026-11-20T11:00:00Z"},
        {"id": ids[1], "date_deleted": "2026-11-20T12:00:00Z"},
        {"id": ids[2], "date_deleted": "2026-11-20T13:00:00Z"},
    ]
    assert window["data"] == [{"id": ids[1], "date_deleted": "2026-11-20T12:00:00Z"}]
    assert vault.state.get("crm_activity__v", ids[0]) is None
    assert (await vault.get(f"/vobjects/crm_activity__v/{ids[0]}"))["responseStatus"] == "FAILURE"


async def test_deleted_ids_page_with_limit_and_offset(clocked_vault: Vault, clock: Clock) -> None:
    vault = clocked_vault
    ids = _activities(vault, 3, clock)
    await vault.login()

    first = await vault.get(DELETIONS, params={"limit": "2"})
    second = (await vault.client.get(first["responseDetails"]["next_page"], headers=vault.auth)).json()

    assert [d["id"] for d in first["data"]] == ids[:2]
    assert [d["id"] for d in second["data"]] == ids[2:]
    assert "next_page" not in second["responseDetails"]


async def test_deletions_are_kept_30_days_and_only_for_their_object(
    clocked_vault: Vault, clock: Clock
) -> None:
    vault = clocked_vault
    _activities(vault, 1, clock)
    vault.state.user_delete("person__sys", person(vault.state)["id"])
    clock.advance(days=31)
    await vault.login()

    activities = await vault.get(DELETIONS)
    people = await vault.get("/objects/deletions/vobjects/person__sys")

    assert activities["data"] == []
    assert people["data"] == []
    clock.advance(days=-30)
    await vault.login()
    assert len((await vault.get("/objects/deletions/vobjects/person__sys"))["data"]) == 1


async def test_bad_deletion_parameters(vault: Vault) -> None:
    bad_date = await vault.get(DELETIONS, params={"start_date": "last tuesday"})
    bad_limit = await vault.get(DELETIONS, params={"limit": "9999"})
    no_object = await vault.get("/objects/deletions/vobjects/nothing__c")

    assert bad_date["errors"][0]["type"] == "INVALID_DATA"
    assert bad_limit["errors"][0]["type"] == "INVALID_DATA"
    assert no_object["errors"][0]["type"] == "MALFORMED_URL"


async def test_object_metadata_lists_fields_with_type_and_editability(vault: Vault) -> None:
    body = await vault.get("/metadata/vobjects/crm_activity__v")

    assert body["responseStatus"] == "SUCCESS"
    meta = body["object"]
    fields = {f["name"]: f for f in meta["fields"]}
    contract_fields = [
        "object_type__v",
        "person__v",
        "activity_date__v",
        "channel__v",
        "complete__v",
        "from__v",
        "subject__v",
        "study__v",
        "study_country__v",
        "site__v",
        "study_person__v",
        "monitoring_event__v",
        "study_communication_log__v",
        "status__v",
        "external_id__v",
    ]
    assert set(contract_fields) <= set(fields)
    assert fields["id"]["editable"] is False
    assert fields["modified_date__v"] == {**fields["modified_date__v"], "type": "DateTime", "editable": False}
    assert fields["channel__v"]["type"] == "Picklist"
    assert fields["person__v"]["object"]["name"] == "person__sys"
    assert fields["external_id__v"]["unique"] is True
    assert meta["prefix"] == "V6A"
    assert meta["object_types"] == ["clinical_activity__v", "medical_activity__v"]


async def test_metadata_object_list_and_unknown_object(vault: Vault) -> None:
    listed = await vault.get("/metadata/vobjects")
    missing = await vault.get("/metadata/vobjects/nothing__c")

    names = {o["name"] for o in listed["objects"]}
    assert {
        "study__v",
        "study_country__v",
        "site__v",
        "person__sys",
        "study_person__clin",
        "crm_activity__v",
        "monitoring_event__v",
        "study_communication_log__ctms",
        "user__sys",
    } <= names
    assert missing["errors"][0]["type"] == "MALFORMED_URL"


async def test_crm_flavor_has_vault_crm_objects(crm_vault: Vault) -> None:
    names = {o["name"] for o in (await crm_vault.get("/metadata/vobjects"))["objects"]}
    interaction = (await crm_vault.get("/metadata/vobjects/vault_clinical_interaction__v"))["object"]

    assert {
        "account__v",
        "call2__v",
        "vault_clinical_interaction__v",
        "clinical_study__v",
        "clinical_site__v",
    } <= names
    unique = {f["name"] for f in interaction["fields"] if f["unique"]}
    assert unique == {"vault_activity_id__v"}


def test_schema_registry_can_model_a_customer_configuration() -> None:
    registry = ctms_schema()
    registry.add(
        define_object(
            "custom_thing__c", "Custom Thing", "C01", [FieldDef("code__c", FieldType.STRING, unique=True)]
        )
    )

    thing = registry.get("custom_thing__c")
    assert thing is not None
    assert thing.unique_fields == ["code__c"]
    assert {"id", "name__v", "status__v", "created_date__v", "modified_by__v"} <= set(thing.fields)
    with pytest.raises(ValueError, match="prefix"):
        registry.add(define_object("other__c", "Other", "V6A", []))
    assert "account__v" in crm_schema()
    assert isinstance(registry, SchemaRegistry)


async def test_object_type_details_one_by_one(vault: Vault) -> None:
    """Retrieve Details from a Specific Object Type: ``Objecttype.{object}.{type}``."""
    one = await vault.get("/configuration/Objecttype.crm_activity__v.medical_activity__v")
    missing = await vault.get("/configuration/Objecttype.crm_activity__v.nonsense__v")

    assert one["responseStatus"] == "SUCCESS"
    assert (one["data"]["object"], one["data"]["name"], one["data"]["default_type"]) == (
        "crm_activity__v",
        "medical_activity__v",
        False,
    )
    assert "object_type__v" in {f["name"] for f in one["data"]["type_fields"]}
    assert missing["responseStatus"] == "FAILURE"
    assert missing["errors"][0]["type"] == "MALFORMED_URL"
