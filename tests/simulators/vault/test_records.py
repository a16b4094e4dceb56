"""Create, upsert and update of object records: per-record results, batch rules, field validation, read."""

from __future__ import annotations

from typing import Any

from tests.simulators.vault.conftest import API_USER, Clock, Vault, person

ACTIVITIES = "/vobjects/crm_activity__v"
UPSERT = ACTIVITIES + "?idParam=external_id__v"


def activity(external_id: str, person_id: str, **fields: Any) -> dict[str, Any]:
    return {"external_id__v": external_id, "person__v": person_id, "channel__v": "video__v", **fields}


async def test_upsert_creates_then_updates_with_events_in_input_order(vault: Vault) -> None:
    who = person(vault.state)["id"]

    created = await vault.post(UPSERT, [activity("A-1", who), activity("A-2", who)])
    updated = await vault.post(UPSERT, [activity("A-2", who, subject__v="changed"), activity("A-3", who)])

    assert created["responseStatus"] == "SUCCESS"
    assert [d["data"]["event"] for d in created["data"]] == ["created__sys", "created__sys"]
    assert [d["data"]["id_param_value"] for d in created["data"]] == ["A-1", "A-2"]
    first = created["data"][0]["data"]
    assert first["id"].startswith("V6A")
    assert len(first["id"]) == 15
    assert first["url"] == f"/api/v25.2/vobjects/crm_activity__v/{first['id']}"
    assert [d["data"]["event"] for d in updated["data"]] == ["updated__sys", "created__sys"]
    assert updated["data"][0]["data"]["id"] == created["data"][1]["data"]["id"]
    assert vault.state.find("crm_activity__v", "external_id__v", "A-2")["subject__v"] == "changed"  # type: ignore[index]


async def test_upsert_without_changes_is_warning_no_data_changes_and_keeps_modified_date(
    clocked_vault: Vault, clock: Clock
) -> None:
    vault = clocked_vault
    who = person(vault.state)["id"]
    await vault.post(UPSERT, [activity("A-1", who, subject__v="s")])
    before = vault.state.find("crm_activity__v", "external_id__v", "A-1")
    assert before is not None
    stamp = before["modified_date__v"]
    clock.advance(minutes=5)

    again = await vault.post(UPSERT, [activity("A-1", who, subject__v="s"), activity("A-9", who)])

    assert again["responseStatus"] == "WARNING"
    assert again["warnings"][0]["warning_type"] == "NO_DATA_CHANGES"
    noop, fresh = again["data"]
    assert noop["responseStatus"] == "WARNING"
    assert noop["warnings"][0]["warning_type"] == "NO_DATA_CHANGES"
    assert noop["data"]["id"] == before["id"]
    assert "event" not in noop["data"]
    assert fresh["data"]["event"] == "created__sys"
    assert vault.state.get("crm_activity__v", before["id"])["modified_date__v"] == stamp  # type: ignore[index]


async def test_duplicate_id_param_values_fail_the_whole_batch(vault: Vault) -> None:
    who = person(vault.state)["id"]

    body = await vault.post(UPSERT, [activity("A-1", who), activity("B-1", who), activity("A-1", who)])

    assert body["responseStatus"] == "FAILURE"
    assert body["errors"][0]["type"] == "INVALID_DATA"
    assert "data" not in body
    assert vault.state.records_of("crm_activity__v") == []


async def test_more_than_500_records_fail_the_batch_and_500_pass(vault: Vault) -> None:
    who = person(vault.state)["id"]

    too_many = await vault.post(UPSERT, [activity(f"A-{i}", who) for i in range(501)])
    exactly = await vault.post(UPSERT, [activity(f"A-{i}", who) for i in range(500)])

    assert too_many["responseStatus"] == "FAILURE"
    assert exactly["responseStatus"] == "SUCCESS"
    assert len(exactly["data"]) == 500
    assert len(vault.state.records_of("crm_activity__v")) == 500
    assert [c.records for c in vault.state.calls.matching("POST", "crm_activity__v")] == [501, 500]


async def test_bad_records_fail_alone_and_the_rest_of_the_batch_applies(vault: Vault) -> None:
    who = person(vault.state)["id"]
    rows = [
        activity("A-1", who, channel__v="fax__v"),  # not in the picklist
        activity("A-2", "V0P999999999999"),  # reference to a missing person
        activity("A-3", who, unknown_field__c="x"),  # not a field of the object
        activity("A-4", who, activity_date__v="19/11/2026"),  # not a date
        activity("A-5", who, complete__v="maybe"),  # not a boolean
        activity("A-6", who, object_type__v="clinical_activity__v"),  # a name where an id belongs
        activity("A-7", who, created_by__v=1),  # system field
        activity("A-8", who),
    ]

    body = await vault.post(UPSERT, rows)

    assert body["responseStatus"] == "SUCCESS"  # per-record failures do not fail the request
    statuses = [(d["responseStatus"], d.get("errors", [{}])[0].get("type")) for d in body["data"]]
    assert statuses == [
        ("FAILURE", "INVALID_DATA"),
        ("FAILURE", "INVALID_DATA"),
        ("FAILURE", "ATTRIBUTE_NOT_SUPPORTED"),
        ("FAILURE", "INVALID_DATA"),
        ("FAILURE", "INVALID_DATA"),
        ("FAILURE", "INVALID_DATA"),
        ("FAILURE", "INVALID_DATA"),
        ("SUCCESS", None),
    ]
    assert body["data"][0]["data"] == {"id_param_value": "A-1"}
    assert "channel__v" in body["data"][0]["errors"][0]["message"]
    assert [r["external_id__v"] for r in vault.state.records_of("crm_activity__v")] == ["A-8"]


async def test_create_without_id_param_and_unique_value_conflict(vault: Vault) -> None:
    who = person(vault.state)["id"]

    body = await vault.post(ACTIVITIES, [activity("A-1", who), activity("A-1", who), {"person__v": who}])

    assert [d["responseStatus"] for d in body["data"]] == ["SUCCESS", "FAILURE", "SUCCESS"]
    assert "id_param_value" not in body["data"][0]["data"]
    assert "Duplicate value" in body["data"][1]["errors"][0]["message"]


async def test_required_fields_and_system_managed_names(vault: Vault) -> None:
    missing = await vault.post("/vobjects/site__v", [{"name__v": "Site 1"}])
    study = await vault.post("/vobjects/study__v", [{"name__v": "STUDY-1"}])
    study_id = study["data"][0]["data"]["id"]
    site = await vault.post("/vobjects/site__v", [{"name__v": "Site 1", "study__v": study_id}])

    assert missing["data"][0]["errors"][0]["type"] == "PARAMETER_REQUIRED"
    assert site["data"][0]["responseStatus"] == "SUCCESS"
    assert person(vault.state)["name__v"] == "Ana Silva"


async def test_reference_by_unique_field_of_the_target(vault: Vault) -> None:
    who = person(vault.state, "HCP-7")

    body = await vault.post(UPSERT, [{"external_id__v": "A-1", "person__vr.external_id__v": "HCP-7"}])
    missing = await vault.post(UPSERT, [{"external_id__v": "A-2", "person__vr.external_id__v": "HCP-404"}])

    record = vault.state.get("crm_activity__v", body["data"][0]["data"]["id"])
    assert record is not None
    assert record["person__v"] == who["id"]
    assert missing["data"][0]["errors"][0]["type"] == "INVALID_DATA"


async def test_id_param_must_be_a_unique_field(vault: Vault) -> None:
    body = await vault.post("/vobjects/crm_activity__v?idParam=subject__v", [{"subject__v": "x"}])

    assert body["responseStatus"] == "FAILURE"
    assert body["errors"][0]["type"] == "INVALID_DATA"


async def test_upsert_by_id_requires_an_existing_record(vault: Vault) -> None:
    body = await vault.post(
        "/vobjects/crm_activity__v?idParam=id", [{"id": "V6A000000009999", "subject__v": "x"}]
    )

    assert body["data"][0]["responseStatus"] == "FAILURE"
    assert body["data"][0]["errors"] == [{"type": "INVALID_DATA", "message": "Invalid id"}]


async def test_changing_the_object_type_is_not_allowed(vault: Vault) -> None:
    who = person(vault.state)["id"]
    clinical = vault.state.object_type_id("crm_activity__v", "clinical_activity__v")
    medical = vault.state.object_type_id("crm_activity__v", "medical_activity__v")
    await vault.post(UPSERT, [activity("A-1", who, object_type__v=clinical)])

    same = await vault.post(UPSERT, [activity("A-1", who, object_type__v=clinical, subject__v="s")])
    other = await vault.post(UPSERT, [activity("A-1", who, object_type__v=medical)])

    assert same["data"][0]["responseStatus"] == "SUCCESS"
    assert other["data"][0]["errors"][0]["type"] == "OPERATION_NOT_ALLOWED"


async def test_object_types_are_ids_given_by_id_or_by_name(vault: Vault) -> None:
    """Create Object Records: ``object_type__v`` takes a type's id, ``object_type__v.api_name__v`` its
    name; the record holds the id, and VQL answers the name as ``object_type__vr.api_name__v``."""
    who = person(vault.state)["id"]
    medical = vault.state.object_type_id("crm_activity__v", "medical_activity__v")

    body = await vault.post(
        UPSERT,
        [
            activity("A-1", who, object_type__v=medical),
            {**activity("A-2", who), "object_type__v.api_name__v": "medical_activity__v"},
            activity("A-3", who, object_type__v="medical_activity__v"),  # a name is not an id
            {**activity("A-4", who), "object_type__v.api_name__v": "nonsense__v"},
        ],
    )
    rows = await vault.query(
        "SELECT external_id__v, object_type__v, object_type__vr.api_name__v FROM crm_activity__v "
        "WHERE object_type__vr.api_name__v = 'medical_activity__v' ORDER BY external_id__v"
    )
    types = await vault.query(
        "SELECT id, api_name__v FROM object_type__v WHERE object_name__v = 'crm_activity__v'"
    )
    details = await vault.get("/configuration/Objecttype")

    assert [d["responseStatus"] for d in body["data"]] == ["SUCCESS", "SUCCESS", "FAILURE", "FAILURE"]
    assert medical in body["data"][2]["errors"][0]["message"]  # the refusal names the valid ids
    assert [
        (r["external_id__v"], r["object_type__v"], r["object_type__vr.api_name__v"]) for r in rows["data"]
    ] == [
        ("A-1", medical, "medical_activity__v"),
        ("A-2", medical, "medical_activity__v"),
    ]
    assert {t["api_name__v"]: t["id"] for t in types["data"]}["medical_activity__v"] == medical
    assert {(t["object"], t["name"], t["default_type"]) for t in details["data"]} == {
        ("crm_activity__v", "clinical_activity__v", True),
        ("crm_activity__v", "medical_activity__v", False),
    }


async def test_update_by_id_missing_records_duplicates_and_no_ops(vault: Vault) -> None:
    who = person(vault.state)["id"]
    created = await vault.post(UPSERT, [activity("A-1", who), activity("A-2", who)])
    one, two = (d["data"]["id"] for d in created["data"])

    body = await vault.put(
        ACTIVITIES,
        [
            {"id": one, "subject__v": "new"},
            {"id": two, "channel__v": "video__v"},  # already so: no-op
            {"id": "V6A000000009999", "subject__v": "x"},
            {"id": one, "subject__v": "again"},  # an id may appear once per request
            {"subject__v": "no id"},
        ],
    )

    assert body["responseStatus"] == "WARNING"
    assert [d["responseStatus"] for d in body["data"]] == [
        "SUCCESS",
        "WARNING",
        "FAILURE",
        "FAILURE",
        "FAILURE",
    ]
    assert body["data"][0]["data"] == {"id": one, "url": f"/api/v25.2/vobjects/crm_activity__v/{one}"}
    assert body["data"][2]["errors"][0]["message"] == "The resource [V6A000000009999] does not exist"
    assert body["data"][4]["errors"][0]["type"] == "PARAMETER_REQUIRED"
    assert vault.state.get("crm_activity__v", one)["subject__v"] == "new"  # type: ignore[index]


async def test_read_returns_every_field_with_system_fields(vault: Vault) -> None:
    who = person(vault.state)["id"]
    created = await vault.post(
        UPSERT, [activity("A-1", who, activity_date__v="2026-11-19", complete__v=True)]
    )
    record_id = created["data"][0]["data"]["id"]
    api_user = vault.state.user_id(API_USER)

    body = await vault.get(f"{ACTIVITIES}/{record_id}")

    assert body["responseStatus"] == "SUCCESS"
    assert body["responseDetails"]["object"]["name"] == "crm_activity__v"
    data = body["data"]
    assert data["id"] == record_id
    assert data["channel__v"] == ["video__v"]  # picklists come back as lists, as Vault returns them
    assert data["complete__v"] is True
    assert data["activity_date__v"] == "2026-11-19"
    assert data["object_type__v"] == vault.state.object_type_id("crm_activity__v", "clinical_activity__v")
    assert data["status__v"] == ["active__v"]
    assert data["subject__v"] is None
    assert data["created_by__v"] == data["modified_by__v"] == api_user
    assert data["created_date__v"].endswith("Z")
    assert len(data["created_date__v"]) == 24


async def test_read_unknown_record_and_unknown_object(vault: Vault) -> None:
    missing = await vault.get(f"{ACTIVITIES}/V6A000000009999")
    no_object = await vault.get("/vobjects/nothing__c/V6A000000009999")

    assert missing["responseStatus"] == "FAILURE"
    assert missing["errors"][0]["type"] == "INVALID_DATA"
    assert no_object["errors"][0]["type"] == "MALFORMED_URL"


async def test_body_must_be_a_json_array(vault: Vault) -> None:
    not_list = await vault.post(UPSERT, {"external_id__v": "A-1"})
    not_json = await vault.client.post(
        f"/api/v25.2{UPSERT}", content=b"{oops", headers={**vault.auth, "content-type": "application/json"}
    )

    assert not_list["errors"][0]["type"] == "INVALID_DATA"
    assert not_json.json()["errors"][0]["type"] == "INVALID_DATA"


async def test_picklists_as_plain_strings_when_configured(vault: Vault) -> None:
    vault.state.config.picklists_as_lists = False
    who = person(vault.state)["id"]
    created = await vault.post(UPSERT, [activity("A-1", who)])

    body = await vault.get(f"{ACTIVITIES}/{created['data'][0]['data']['id']}")

    assert body["data"]["channel__v"] == "video__v"


async def test_csv_input_is_read_by_its_header_and_malformed_csv_is_refused(vault: Vault) -> None:
    csv_headers = {**vault.auth, "Content-Type": "text/csv"}
    url = f"/api/v25.2{ACTIVITIES}"
    who = person(vault.state)["id"]
    good = f"external_id__v,person__v,channel__v,complete__v\r\nA-1,{who},video__v,true\r\n"

    created = await vault.client.post(url, content=good.encode(), headers=csv_headers)
    ragged = await vault.client.post(url, content=b"external_id__v,channel__v\nA-2\n", headers=csv_headers)
    empty = await vault.client.post(url, content=b"", headers=csv_headers)

    assert created.json()["data"][0]["responseStatus"] == "SUCCESS"
    assert vault.state.find("crm_activity__v", "external_id__v", "A-1")["complete__v"] is True  # type: ignore[index]
    assert "CSV line 2 has 1 values" in ragged.json()["errors"][0]["message"]
    assert empty.json()["errors"][0]["type"] == "INVALID_DATA"


async def test_delete_by_id_or_by_id_param_logs_deletions(vault: Vault) -> None:
    who = person(vault.state)["id"]
    created = await vault.post(UPSERT, [activity("A-1", who), activity("A-2", who)])
    first_id = created["data"][0]["data"]["id"]

    response = await vault.client.request(
        "DELETE", f"/api/v25.2{ACTIVITIES}", json=[{"id": first_id}, {"id": "nope"}], headers=vault.auth
    )
    by_key = await vault.client.request(
        "DELETE", f"/api/v25.2{UPSERT}", json=[{"external_id__v": "A-2"}], headers=vault.auth
    )

    assert [d["responseStatus"] for d in response.json()["data"]] == ["SUCCESS", "FAILURE"]
    assert response.json()["data"][1]["errors"][0]["type"] == "INVALID_DATA"
    assert by_key.json()["data"][0]["responseStatus"] == "SUCCESS"
    assert vault.state.records.get("crm_activity__v") == {}
    assert {d.object for d in vault.state.deletions} == {"crm_activity__v"}
    assert len(vault.state.deletions) == 2
