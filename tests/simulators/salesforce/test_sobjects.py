"""Single-record resources: upsert by external id, read, update, delete, describe, versions."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest

from app.simulators.salesforce import SalesforceState
from app.simulators.salesforce.formats import normalize_id
from tests.simulators.salesforce.conftest import V, upsert_accounts

NOT_FOUND = [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND", "fields": []}]


async def test_upsert_creates_then_updates(api: httpx.AsyncClient, state: SalesforceState) -> None:
    url = f"{V}/sobjects/Account/External_ID_vod__c/HCP-1"
    created = await api.patch(url, json={"FirstName": "Ana", "LastName": "Lima"})
    assert created.status_code == 201
    body = created.json()
    assert body == {"id": body["id"], "success": True, "errors": [], "created": True}
    assert re.fullmatch(r"001[a-zA-Z0-9]{15}", body["id"])
    assert normalize_id(body["id"]) == body["id"]  # a valid 18-character id, suffix included

    updated = await api.patch(url, json={"LastName": "Lima Souza"})
    assert updated.status_code == 200
    assert updated.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    record = state.get_record("Account", body["id"])
    assert record is not None
    assert (record["Name"], record["External_ID_vod__c"]) == ("Ana Lima Souza", "HCP-1")


async def test_upsert_update_answers_204_before_v46(api: httpx.AsyncClient) -> None:
    await upsert_accounts(api, "HCP-1")
    response = await api.patch("/services/data/v45.0/sobjects/Account/External_ID_vod__c/HCP-1", json={})
    assert response.status_code == 204
    assert response.content == b""


async def test_upsert_matching_several_records_answers_300(
    api: httpx.AsyncClient, state: SalesforceState
) -> None:
    first = state.create_record("Account", {"LastName": "One", "External_ID_vod__c": "DUP-1"})
    second = state.create_record(
        "Account", {"LastName": "Two", "External_ID_vod__c": "dup-1"}
    )  # case-insensitive
    response = await api.patch(f"{V}/sobjects/Account/External_ID_vod__c/DUP-1", json={"FirstName": "X"})
    assert response.status_code == 300
    assert response.json() == [f"{V}/sobjects/Account/{first['Id']}", f"{V}/sobjects/Account/{second['Id']}"]
    assert state.get_record("Account", first["Id"])["FirstName"] is None  # type: ignore[index]


async def test_upsert_errors_are_error_arrays(api: httpx.AsyncClient) -> None:
    bad_picklist = await api.patch(
        f"{V}/sobjects/Vault_Clinical_Interaction_vod__c/Vault_Activity_ID_vod__c/V1",
        json={"Call_Channel_vod__c": "Zoom"},
    )
    assert bad_picklist.status_code == 400
    assert bad_picklist.json() == [
        {
            "message": "Call Channel: bad value for restricted picklist field: Zoom",
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "fields": ["Call_Channel_vod__c"],
        }
    ]
    missing_parent = await api.patch(
        f"{V}/sobjects/Vault_Clinical_Interaction_vod__c/Vault_Activity_ID_vod__c/V1",
        json={"Account_vod__r": {"External_ID_vod__c": "HCP-404"}},
    )
    assert missing_parent.status_code == 400
    assert missing_parent.json() == [
        {
            "message": "Foreign key external ID: HCP-404 not found for field External_ID_vod__c in entity Account",
            "errorCode": "INVALID_FIELD",
            "fields": [],
        }
    ]


async def test_upsert_with_a_field_that_is_not_an_external_id(api: httpx.AsyncClient) -> None:
    response = await api.patch(f"{V}/sobjects/Account/Name/Someone", json={})
    assert response.status_code == 404
    assert response.json() == [
        {
            "message": "Provided external ID field does not exist or is not accessible: Name",
            "errorCode": "NOT_FOUND",
            "fields": [],
        }
    ]


async def test_unknown_field_fails_the_request(api: httpx.AsyncClient) -> None:
    response = await api.patch(f"{V}/sobjects/Account/External_ID_vod__c/HCP-1", json={"Shoe_Size__c": 42})
    assert response.status_code == 400
    assert response.json()[0] == {
        "message": "No such column 'Shoe_Size__c' on sobject of type Account",
        "errorCode": "INVALID_FIELD",
        "fields": [],
    }


async def test_bad_json_is_a_parser_error(api: httpx.AsyncClient) -> None:
    response = await api.patch(f"{V}/sobjects/Account/External_ID_vod__c/HCP-1", content=b"{not json")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


async def test_get_record_by_id_and_by_external_id(api: httpx.AsyncClient, state: SalesforceState) -> None:
    [account_id] = await upsert_accounts(api, "HCP-7")
    response = await api.get(f"{V}/sobjects/Account/{account_id}")
    assert response.status_code == 200
    record = response.json()
    assert record["attributes"] == {"type": "Account", "url": f"{V}/sobjects/Account/{account_id}"}
    assert record["Id"] == account_id
    assert record["CreatedById"] == state.api_user_id
    assert re.fullmatch(r"2026-11-20T10:00:00\.000\+0000", record["LastModifiedDate"])
    assert record["IsDeleted"] is False

    by_15 = await api.get(f"{V}/sobjects/Account/{account_id[:15]}")
    assert by_15.json()["Id"] == account_id
    subset = await api.get(f"{V}/sobjects/Account/{account_id}", params={"fields": "Name,External_ID_vod__c"})
    assert set(subset.json()) == {"attributes", "Id", "Name", "External_ID_vod__c"}
    by_ext = await api.get(f"{V}/sobjects/Account/External_ID_vod__c/HCP-7")
    assert by_ext.json()["Id"] == account_id


async def test_get_missing_records(api: httpx.AsyncClient) -> None:
    missing = await api.get(f"{V}/sobjects/Account/001000000000000AAA")
    assert missing.status_code == 404
    assert missing.json() == NOT_FOUND
    not_an_id = await api.get(f"{V}/sobjects/Account/HCP-1")
    assert not_an_id.status_code == 404
    assert "Provided external ID field does not exist" in not_an_id.json()[0]["message"]


async def test_create_update_delete(api: httpx.AsyncClient, state: SalesforceState) -> None:
    created = await api.post(f"{V}/sobjects/Clinical_Study_vod__c", json={"Vault_Study_ID_vod__c": "S-1"})
    assert created.status_code == 201
    study_id = created.json()["id"]
    assert created.json() == {"id": study_id, "success": True, "errors": []}
    assert state.get_record("Clinical_Study_vod__c", study_id)["Name"] == study_id  # type: ignore[index]

    patched = await api.patch(
        f"{V}/sobjects/Clinical_Study_vod__c/{study_id}", json={"Status_vod__c": "Active_vod"}
    )
    assert patched.status_code == 204
    assert state.get_record("Clinical_Study_vod__c", study_id)["Status_vod__c"] == "Active_vod"  # type: ignore[index]

    assert (await api.delete(f"{V}/sobjects/Clinical_Study_vod__c/{study_id}")).status_code == 204
    assert [d.id for d in state.deletions] == [study_id]
    again = await api.delete(f"{V}/sobjects/Clinical_Study_vod__c/{study_id}")
    assert again.status_code == 404
    assert again.json()[0]["errorCode"] == "ENTITY_IS_DELETED"


async def test_unique_external_id_rejects_a_duplicate_create(api: httpx.AsyncClient) -> None:
    await api.post(f"{V}/sobjects/Clinical_Study_vod__c", json={"Vault_Study_ID_vod__c": "S-1"})
    duplicate = await api.post(f"{V}/sobjects/Clinical_Study_vod__c", json={"Vault_Study_ID_vod__c": "s-1"})
    assert duplicate.status_code == 400
    assert duplicate.json()[0]["errorCode"] == "DUPLICATE_VALUE"


async def test_system_fields_are_read_only(api: httpx.AsyncClient) -> None:
    response = await api.post(
        f"{V}/sobjects/Account", json={"LastName": "X", "CreatedDate": "2020-01-01T00:00:00Z"}
    )
    assert response.status_code == 400
    error = response.json()[0]
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error["fields"] == ["CreatedDate"]


async def test_required_fields(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V}/sobjects/Account", json={"FirstName": "Only"})
    assert response.status_code == 400
    assert response.json()[0] == {
        "message": "Required fields are missing: [Name]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["Name"],
    }


async def test_describe_lists_fields_with_access_and_picklists(
    api: httpx.AsyncClient, state: SalesforceState
) -> None:
    response = await api.get(f"{V}/sobjects/Vault_Clinical_Interaction_vod__c/describe")
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["keyPrefix"], body["custom"]) == (
        "Vault_Clinical_Interaction_vod__c",
        "a2V",
        True,
    )
    fields = {f["name"]: f for f in body["fields"]}
    for name in ("Account_vod__c", "Interaction_Date_vod__c", "Call_Channel_vod__c", "Status_vod__c", "From_vod__c",
                 "Subject_vod__c", "Clinical_Study_vod__c", "Clinical_Site_vod__c"):  # fmt: skip
        assert (fields[name]["createable"], fields[name]["updateable"]) == (True, True), name
    key = fields["Vault_Activity_ID_vod__c"]
    assert (key["externalId"], key["unique"], key["type"]) == (True, True, "string")
    channel = fields["Call_Channel_vod__c"]
    assert channel["restrictedPicklist"] is True
    assert [p["value"] for p in channel["picklistValues"]] == [
        "Face_to_face_vod", "Video_vod", "Phone_vod", "Message_vod", "Email_vod", "Other_vod"
    ]  # fmt: skip
    assert fields["Clinical_Site_vod__c"]["referenceTo"] == ["Clinical_Site_vod__c"]
    assert fields["Clinical_Site_vod__c"]["relationshipName"] == "Clinical_Site_vod__r"
    assert fields["CreatedDate"]["createable"] is False

    state.schema.set_access(
        "Vault_Clinical_Interaction_vod__c", "From_vod__c", createable=False, updateable=False
    )
    after = {
        f["name"]: f
        for f in (await api.get(f"{V}/sobjects/Vault_Clinical_Interaction_vod__c/describe")).json()["fields"]
    }
    assert after["From_vod__c"]["updateable"] is False
    refused = await api.post(
        f"{V}/sobjects/Vault_Clinical_Interaction_vod__c", json={"From_vod__c": "A B (a@b.c)"}
    )
    assert refused.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


@pytest.mark.parametrize(
    ("obj", "picklist_field", "value"),
    [
        ("Clinical_Study_vod__c", "Status_vod__c", "Deleted_in_Vault_Clinical_vod"),
        ("Clinical_Site_vod__c", "Status_vod__c", "Deleted_in_Vault_Clinical_vod"),
        ("Call2_vod__c", "Status_vod__c", "Submitted_vod"),
    ],
)
async def test_default_picklists(api: httpx.AsyncClient, obj: str, picklist_field: str, value: str) -> None:
    fields = {f["name"]: f for f in (await api.get(f"{V}/sobjects/{obj}/describe")).json()["fields"]}
    assert value in [p["value"] for p in fields[picklist_field]["picklistValues"]]


async def test_unknown_object_and_route(api: httpx.AsyncClient) -> None:
    unknown_object = await api.get(f"{V}/sobjects/Nope__c/describe")
    assert unknown_object.status_code == 404
    unknown_route = await api.get(f"{V}/nowhere")
    assert unknown_route.status_code == 404
    assert unknown_route.json() == NOT_FOUND
    old_version = await api.get("/services/data/v20.0/sobjects/Account/describe")
    assert old_version.status_code == 404


async def test_wrong_method_is_405_in_the_platform_shape(api: httpx.AsyncClient) -> None:
    response = await api.put(f"{V}/sobjects/Account/001000000000000AAA", json={})
    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


async def test_versions_need_no_session_and_do_not_count(
    anon: httpx.AsyncClient, state: SalesforceState
) -> None:
    response = await anon.get("/services/data/")
    assert response.status_code == 200
    versions = response.json()
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    assert "Sforce-Limit-Info" not in response.headers
    assert state.api_usage == 0


async def test_version_root_and_limits(api: httpx.AsyncClient) -> None:
    root = (await api.get(f"{V}/")).json()
    assert root["query"] == f"{V}/query"
    limits = (await api.get(f"{V}/limits/")).json()
    assert limits["DailyApiRequests"] == {"Max": 100000, "Remaining": 100000 - 2}


async def test_an_org_with_other_names_and_access(api: httpx.AsyncClient, state: SalesforceState) -> None:
    """Connections may point at other objects and fields; the schema can be changed to match such an org."""
    interactions = state.schema.get("Vault_Clinical_Interaction_vod__c")
    assert interactions is not None
    state.schema.register(
        replace(
            interactions, name="Clinical_Touchpoint__c", key_prefix="a7T", fields=dict(interactions.fields)
        )
    )
    created = await api.patch(f"{V}/sobjects/Clinical_Touchpoint__c/Vault_Activity_ID_vod__c/V-1", json={})
    assert created.status_code == 201
    assert created.json()["id"].startswith("a7T")

    state.schema.remove_field("Clinical_Touchpoint__c", "From_vod__c")
    names = [
        f["name"] for f in (await api.get(f"{V}/sobjects/Clinical_Touchpoint__c/describe")).json()["fields"]
    ]
    assert "From_vod__c" not in names
    hidden = await api.patch(
        f"{V}/sobjects/Clinical_Touchpoint__c/Vault_Activity_ID_vod__c/V-1", json={"From_vod__c": "x"}
    )
    assert hidden.json()[0]["errorCode"] == "INVALID_FIELD"

    body = {"Call_Channel_vod__c": "In_Person_vod"}
    url = f"{V}/sobjects/Clinical_Touchpoint__c/Vault_Activity_ID_vod__c/V-1"
    assert (await api.patch(url, json=body)).status_code == 400
    state.schema.add_picklist_values("Clinical_Touchpoint__c", "Call_Channel_vod__c", "In_Person_vod")
    assert (await api.patch(url, json=body)).status_code == 200
