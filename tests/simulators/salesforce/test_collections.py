"""sObject Collections: per-record results in input order, allOrNone, the 200-record limit."""

from __future__ import annotations

from typing import Any

import httpx

from app.simulators.salesforce import SalesforceState
from tests.simulators.salesforce.conftest import V, upsert_accounts

VCI = "Vault_Clinical_Interaction_vod__c"
UPSERT_URL = f"{V}/composite/sobjects/{VCI}/Vault_Activity_ID_vod__c"
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


def interaction(activity_id: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": VCI}, "Vault_Activity_ID_vod__c": activity_id, **fields}


async def upsert(
    api: httpx.AsyncClient, records: list[dict[str, Any]], all_or_none: bool = False
) -> httpx.Response:
    return await api.patch(UPSERT_URL, json={"allOrNone": all_or_none, "records": records})


async def test_results_come_per_record_in_input_order(api: httpx.AsyncClient, state: SalesforceState) -> None:
    await upsert_accounts(api, "HCP-1")
    first = await upsert(api, [interaction("V-1", Account_vod__r={"External_ID_vod__c": "HCP-1"})])
    existing_id = first.json()[0]["id"]

    response = await upsert(
        api,
        [
            interaction("V-2", Call_Channel_vod__c="Video_vod", Interaction_Date_vod__c="2026-11-19"),
            interaction("V-1", Subject_vod__c="Updated"),
            interaction("V-3", Account_vod__r={"External_ID_vod__c": "HCP-404"}),
            interaction("V-4", Call_Channel_vod__c="Zoom"),
        ],
    )

    assert response.status_code == 200
    results = response.json()
    assert results[0] == {"id": results[0]["id"], "success": True, "errors": [], "created": True}
    assert results[1] == {"id": existing_id, "success": True, "errors": [], "created": False}
    assert results[2] == {
        "success": False,
        "errors": [
            {
                "statusCode": "INVALID_FIELD",
                "message": "Foreign key external ID: HCP-404 not found for field External_ID_vod__c in entity Account",
                "fields": [],
            }
        ],
    }
    assert results[3]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    saved = {r["Vault_Activity_ID_vod__c"]: r for r in state.list_records(VCI)}
    assert set(saved) == {"V-1", "V-2"}
    assert saved["V-1"]["Subject_vod__c"] == "Updated"
    assert saved["V-1"]["Account_vod__c"] == state.list_records("Account")[-1]["Id"]
    assert state.calls.calls[-1].records == 4


async def test_all_or_none_rolls_everything_back(api: httpx.AsyncClient, state: SalesforceState) -> None:
    await upsert(api, [interaction("V-1", Subject_vod__c="Before")])
    response = await upsert(
        api,
        [
            interaction("V-1", Subject_vod__c="After"),
            interaction("V-2"),
            interaction("V-3", Status_vod__c="Done"),
        ],
        all_or_none=True,
    )
    assert response.status_code == 200
    results = response.json()
    assert results[0] == {"success": False, "errors": [ROLLED_BACK]}
    assert results[1] == {"success": False, "errors": [ROLLED_BACK]}
    assert results[2]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    [only] = state.list_records(VCI)
    assert (only["Vault_Activity_ID_vod__c"], only["Subject_vod__c"]) == ("V-1", "Before")

    retry = (await upsert(api, [interaction("V-1", Subject_vod__c="After"), interaction("V-2")], True)).json()
    assert [(r["success"], r["created"]) for r in retry] == [(True, False), (True, True)]
    assert retry[0]["id"] == only["Id"]
    assert sorted(r["Name"] for r in state.list_records(VCI)) == [
        "VCI-0000001",
        "VCI-0000002",
    ]  # numbering undone too


async def test_more_than_200_records_fail_the_request(api: httpx.AsyncClient, state: SalesforceState) -> None:
    response = await upsert(api, [interaction(f"V-{i}") for i in range(201)])
    assert response.status_code == 400
    assert response.json() == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
            "fields": [],
        }
    ]
    assert state.list_records(VCI) == []
    assert (await upsert(api, [interaction(f"V-{i}") for i in range(200)])).status_code == 200
    assert len(state.list_records(VCI)) == 200


async def test_unknown_field_fails_the_whole_request(api: httpx.AsyncClient, state: SalesforceState) -> None:
    response = await upsert(api, [interaction("V-1"), interaction("V-2", Colour__c="red")])
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Colour__c'" in response.json()[0]["message"]
    assert state.list_records(VCI) == []


async def test_record_level_input_errors(api: httpx.AsyncClient) -> None:
    no_type = {"Vault_Activity_ID_vod__c": "V-9"}
    response = await upsert(api, [no_type, interaction("V-5"), interaction("v-5"), interaction("")])
    results = response.json()
    assert results[0]["errors"][0] == {
        "statusCode": "INVALID_TYPE",
        "message": "Must send a concrete entity type.",
        "fields": [],
    }
    duplicate = {
        "statusCode": "DUPLICATE_VALUE",
        "message": "Duplicate external id specified: V-5",
        "fields": ["Vault_Activity_ID_vod__c"],
    }
    assert results[1]["errors"] == [duplicate]
    assert results[2]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert results[3]["errors"][0] == {
        "statusCode": "MISSING_ARGUMENT",
        "message": "Vault_Activity_ID_vod__c not specified",
        "fields": [],
    }


async def test_parent_matching_several_records(api: httpx.AsyncClient, state: SalesforceState) -> None:
    one = state.create_record("Account", {"LastName": "A", "External_ID_vod__c": "TWIN"})
    two = state.create_record("Account", {"LastName": "B", "External_ID_vod__c": "TWIN"})
    response = await upsert(api, [interaction("V-1", Account_vod__r={"External_ID_vod__c": "TWIN"})])
    assert response.json()[0]["errors"] == [
        {
            "statusCode": "DUPLICATE_EXTERNAL_ID",
            "message": f"External ID: more than one record found for external id field: [{one['Id']}, {two['Id']}]",
            "fields": ["External_ID_vod__c"],
        }
    ]


async def test_parent_references_for_studies_and_sites(
    api: httpx.AsyncClient, state: SalesforceState
) -> None:
    study = await api.patch(
        f"{V}/composite/sobjects/Clinical_Study_vod__c/Vault_Study_ID_vod__c",
        json={
            "records": [
                {
                    "attributes": {"type": "Clinical_Study_vod__c"},
                    "Vault_Study_ID_vod__c": "ST-1",
                    "Name": "S",
                }
            ]
        },
    )
    study_id = study.json()[0]["id"]
    site = await api.patch(
        f"{V}/composite/sobjects/Clinical_Site_vod__c/Vault_Site_ID_vod__c",
        json={
            "records": [
                {
                    "attributes": {"type": "Clinical_Site_vod__c"},
                    "Vault_Site_ID_vod__c": "SI-1",
                    "Clinical_Study_vod__r": {"Vault_Study_ID_vod__c": "ST-1"},
                }
            ]
        },
    )
    assert site.json()[0]["success"] is True
    assert state.list_records("Clinical_Site_vod__c")[0]["Clinical_Study_vod__c"] == study_id


async def test_text_too_long_and_bad_reference_ids(api: httpx.AsyncClient) -> None:
    response = await upsert(
        api,
        [
            interaction("V-1", Subject_vod__c="x" * 256),
            interaction("V-2", Account_vod__c="not-an-id"),
            interaction("V-3", Account_vod__c="a1S5g0000000001EAA"),
        ],
    )
    codes = [r["errors"][0]["statusCode"] for r in response.json()]
    assert codes == ["STRING_TOO_LONG", "MALFORMED_ID", "FIELD_INTEGRITY_EXCEPTION"]


async def test_upsert_collections_need_v46(api: httpx.AsyncClient) -> None:
    response = await api.patch(
        f"/services/data/v45.0/composite/sobjects/{VCI}/Vault_Activity_ID_vod__c", json={"records": []}
    )
    assert response.status_code == 404


async def test_create_and_update_collections(api: httpx.AsyncClient, state: SalesforceState) -> None:
    created = await api.post(
        f"{V}/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "LastName": "Mixed"},
                {"attributes": {"type": "Clinical_Study_vod__c"}, "Vault_Study_ID_vod__c": "ST-9"},
                {"attributes": {"type": "Account"}, "FirstName": "No last name"},
            ],
        },
    )
    results = created.json()
    assert [r["success"] for r in results] == [True, True, False]
    assert set(results[0]) == {"id", "success", "errors"}
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"

    account_id = results[0]["id"]
    updated = await api.patch(
        f"{V}/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "id": account_id, "FirstName": "Now"},
                {"attributes": {"type": "Account"}, "FirstName": "No id"},
            ]
        },
    )
    assert updated.json()[0] == {"id": account_id, "success": True, "errors": []}
    assert updated.json()[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert state.get_record("Account", account_id)["Name"] == "Now Mixed"  # type: ignore[index]
