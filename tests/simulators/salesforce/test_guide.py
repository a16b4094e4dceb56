"""The Salesforce simulator says what to send (examples and picklist values in /_sim/docs) and has a
switch that deactivates a picklist value, so a write with it fails as the platform's does."""

from __future__ import annotations

from typing import Any

import httpx

from app.simulators.salesforce import SalesforceState
from tests.simulators.salesforce.conftest import V, upsert_accounts

INTERACTION, CHANNEL = "Vault_Clinical_Interaction_vod__c", "Call_Channel_vod__c"
SWITCH = f"/_sim/picklists/{INTERACTION}/{CHANNEL}/Message_vod"


async def _records_post(client: httpx.AsyncClient) -> dict[str, Any]:
    document = (await client.get("/_sim/openapi.json")).json()
    return dict(document["paths"]["/_sim/records/{sobject}"]["post"])


async def test_every_example_in_the_docs_is_accepted_and_readable(anon: httpx.AsyncClient) -> None:
    examples = (await _records_post(anon))["requestBody"]["content"]["application/json"]["examples"]
    assert list(examples) == ["Account", "Call2_vod__c"]

    for sobject, example in examples.items():
        response = await anon.post(f"/_sim/records/{sobject}", json=example["value"])
        assert response.status_code == 201, (sobject, response.text)

    [account] = (await anon.get("/_sim/records/Account")).json()
    [call] = (await anon.get("/_sim/records/Call2_vod__c")).json()
    assert call["Account_vod__c"] == account["Id"]
    assert account["Name"] == "Rosa Lind"


async def test_the_docs_list_the_restricted_picklist_values(anon: httpx.AsyncClient) -> None:
    text = (await _records_post(anon))["description"]
    assert "`Call_Channel_vod__c` (restricted picklist): `Face_to_face_vod` | `Video_vod`" in text
    assert "`Phase_vod__c` (picklist): `Phase_1_vod`" in text


def _channels(describe: dict[str, Any]) -> list[str]:
    [field] = [f for f in describe["fields"] if f["name"] == CHANNEL]
    return [v["value"] for v in field["picklistValues"] if v["active"]]


async def test_a_deactivated_value_is_not_described_and_refused(api: httpx.AsyncClient) -> None:
    await upsert_accounts(api, "HCP-1")
    body = {"Account_vod__r": {"External_ID_vod__c": "HCP-1"}, CHANNEL: "Message_vod"}

    switched = await api.delete(SWITCH)

    assert switched.status_code == 200, switched.text
    assert switched.json()["restricted"] is True
    assert {"value": "Message_vod", "active": False} in switched.json()["values"]
    described = (await api.get(f"{V}/sobjects/{INTERACTION}/describe")).json()
    assert "Message_vod" not in _channels(described)
    assert "Video_vod" in _channels(described)
    calls = (await api.get(f"{V}/sobjects/Call2_vod__c/describe")).json()
    assert "Message_vod" in _channels(calls)  # a value is deactivated on one object's field only
    refused = await api.patch(f"{V}/sobjects/{INTERACTION}/Vault_Activity_ID_vod__c/V1", json=body)
    assert refused.status_code == 400
    assert refused.json() == [
        {
            "message": "Call Channel: bad value for restricted picklist field: Message_vod",
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "fields": [CHANNEL],
        }
    ]

    assert (await api.put(SWITCH)).json()["values"][3] == {"value": "Message_vod", "active": True}
    accepted = await api.patch(f"{V}/sobjects/{INTERACTION}/Vault_Activity_ID_vod__c/V1", json=body)
    assert accepted.status_code == 201, accepted.text


async def test_the_switch_names_unknown_fields_and_values(
    anon: httpx.AsyncClient, state: SalesforceState
) -> None:
    assert (await anon.delete(f"/_sim/picklists/{INTERACTION}/Subject_vod__c/x")).status_code == 404
    unknown = await anon.delete(f"/_sim/picklists/{INTERACTION}/{CHANNEL}/Fax_vod")
    assert unknown.status_code == 404
    assert "Video_vod" in unknown.text
    added = await anon.put(f"/_sim/picklists/{INTERACTION}/{CHANNEL}/Fax_vod")
    assert {"value": "Fax_vod", "active": True} in added.json()["values"]
    assert "Fax_vod" in state.schema.objects[INTERACTION].fields[CHANNEL].picklist


async def test_the_other_control_routes_have_examples(anon: httpx.AsyncClient) -> None:
    document = (await anon.get("/_sim/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert {"error_rate": 0.2, "seed": 7} in schemas["SalesforceFaultSettings"]["examples"]
    for name in ("WebhookConfig", "ClientConfig", "JwtClientConfig", "LimitsConfig", "NewUser"):
        assert schemas[name]["examples"], name
    switch = document["paths"]["/_sim/picklists/{sobject}/{field}/{value}"]["delete"]["description"]
    assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in switch
