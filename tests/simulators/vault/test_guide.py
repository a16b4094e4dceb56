"""The vault simulator says what to send: examples and valid values in /_sim/docs, picklist errors that name
the valid values, and a switch that inactivates a picklist value as a vault admin would."""

from __future__ import annotations

from typing import Any

from tests.simulators.vault.conftest import Vault

RECORDS = "/_sim/records/{object_name}"


async def _openapi(vault: Vault) -> dict[str, Any]:
    response = await vault.client.get("/_sim/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


async def _examples(vault: Vault) -> dict[str, Any]:
    post = (await _openapi(vault))["paths"][RECORDS]["post"]
    return dict(post["requestBody"]["content"]["application/json"]["examples"])


async def test_every_ctms_example_in_the_docs_is_accepted_and_readable(vault: Vault) -> None:
    examples = await _examples(vault)
    assert {"study__v", "site__v", "person__sys", "crm_activity__v"} <= set(examples)

    for object_name, example in examples.items():
        response = await vault.client.post(f"/_sim/records/{object_name}", json=example["value"])
        assert response.status_code == 201, (object_name, response.text)

    [site] = (await vault.client.get("/_sim/records/site__v")).json()
    [study] = (await vault.client.get("/_sim/records/study__v")).json()
    assert site["study__v"] == study["id"]  # the example's study__vr.external_id__v reference resolved
    assert study["phase__v"] == ["phase_3__v"]


async def test_every_vault_crm_example_is_accepted(crm_vault: Vault) -> None:
    for object_name, example in (await _examples(crm_vault)).items():
        response = await crm_vault.client.post(f"/_sim/records/{object_name}", json=example["value"])
        assert response.status_code == 201, (object_name, response.text)


async def test_the_docs_list_each_objects_picklist_values(vault: Vault) -> None:
    text = (await _openapi(vault))["paths"][RECORDS]["post"]["description"]
    assert "`phase__v`: `phase_1__v` | `phase_2__v`" in text
    assert "`study_status__v`: `planned__v` | `active__v`" in text
    assert "`object_type__v.api_name__v`: `clinical_activity__v` | `medical_activity__v`" in text


async def test_a_study_phase_outside_the_picklist_is_refused_with_the_valid_values(vault: Vault) -> None:
    response = await vault.client.post(
        "/_sim/records/study__v", json={"name__v": "VVT485-301", "phase__v": "Phase 2"}
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]["errors"]
    assert error["type"] == "INVALID_DATA"
    assert error["message"].startswith("Invalid picklist value [Phase 2] for field [phase__v]")
    assert (
        "valid values: phase_1__v, phase_2__v, phase_3__v, phase_4__v, not_applicable__v" in error["message"]
    )
    assert (await vault.client.get("/_sim/records/study__v")).json() == []


async def test_the_api_refuses_a_site_status_outside_the_picklist(vault: Vault) -> None:
    [study] = (await vault.post("/vobjects/study__v", [{"name__v": "S-1"}]))["data"]
    body = await vault.post(
        "/vobjects/site__v",
        [{"name__v": "Site 1", "study__v": study["data"]["id"], "site_status__v": "Enrolling"}],
    )
    [row] = body["data"]
    assert row["responseStatus"] == "FAILURE"
    assert row["errors"][0]["type"] == "INVALID_DATA"
    assert "enrolling__v" in row["errors"][0]["message"]


async def test_an_inactivated_picklist_value_is_refused_and_no_longer_listed(crm_vault: Vault) -> None:
    path = "/_sim/picklists/vault_clinical_interaction__v/call_channel__v/message__v"
    account = crm_vault.state.user_create("account__v", {"last_name__v": "Lind", "external_id__v": "HCP-1"})
    interaction = {
        "vault_activity_id__v": "V6A1",
        "account__v": account["id"],
        "call_channel__v": "message__v",
    }

    switched = await crm_vault.client.delete(path)

    assert switched.status_code == 200, switched.text
    view = switched.json()
    assert view["picklist"] == "call_channel__v"
    assert {"name": "message__v", "active": False} in view["values"]
    assert "call2__v.call_channel__v" in view["used_in"]  # Vault picklists are shared
    listed = await crm_vault.get("/objects/picklists/call_channel__v")
    assert "message__v" not in [v["name"] for v in listed["picklistValues"]]
    assert "phone__v" in [v["name"] for v in listed["picklistValues"]]
    [row] = (
        await crm_vault.post(
            "/vobjects/vault_clinical_interaction__v?idParam=vault_activity_id__v", [interaction]
        )
    )["data"]
    assert row["responseStatus"] == "FAILURE"
    assert row["errors"][0]["type"] == "INVALID_DATA"
    assert "inactive" in row["errors"][0]["message"]
    assert "message__v" not in row["errors"][0]["message"].split("valid values:")[1]

    assert (await crm_vault.client.put(path)).status_code == 200
    [again] = (
        await crm_vault.post(
            "/vobjects/vault_clinical_interaction__v?idParam=vault_activity_id__v", [interaction]
        )
    )["data"]
    assert again["responseStatus"] == "SUCCESS"


async def test_the_picklist_switch_names_unknown_fields_and_values(vault: Vault) -> None:
    assert (await vault.client.delete("/_sim/picklists/study__v/name__v/x")).status_code == 404
    response = await vault.client.delete("/_sim/picklists/study__v/phase__v/phase_9__v")
    assert response.status_code == 404
    assert "phase_1__v" in response.text
    added = await vault.client.put("/_sim/picklists/study__v/phase__v/phase_2_3__v")
    assert {"name": "phase_2_3__v", "active": True} in added.json()["values"]
    assert (
        await vault.client.post("/_sim/records/study__v", json={"name__v": "S", "phase__v": "phase_2_3__v"})
    ).status_code == 201


async def test_the_other_control_routes_have_examples(vault: Vault) -> None:
    schemas = (await _openapi(vault))["components"]["schemas"]
    assert {"error_rate": 0.2, "seed": 7} in schemas["FaultSettings"]["examples"]
    assert schemas["WebhookSettings"]["examples"][0]["url"] == "http://127.0.0.1:8000"
    paths = (await _openapi(vault))["paths"]
    assert (
        "inactivate" in paths["/_sim/picklists/{object_name}/{field_name}/{value}"]["delete"]["description"]
    )
