"""Signed events (Standard Webhooks) for record changes: CTMS flavor and Vault CRM flavor."""

from __future__ import annotations

from tests.simulators.vault.conftest import API_USER, Receiver, Vault, person, wire

UPSERT = "/vobjects/crm_activity__v?idParam=external_id__v"


async def test_api_writes_emit_created_and_updated_with_the_record(vault: Vault, receiver: Receiver) -> None:
    wire(vault.state, receiver)
    who = person(vault.state)["id"]  # a human's change: an event too
    await vault.post(UPSERT, [{"external_id__v": "A-1", "person__v": who, "channel__v": "video__v"}])
    await vault.post(UPSERT, [{"external_id__v": "A-1", "subject__v": "changed"}])
    await vault.post(UPSERT, [{"external_id__v": "A-1", "subject__v": "changed"}])  # no-op: no event
    await vault.state.emitter.drain()

    assert receiver.rejected == 0
    assert receiver.types() == ["ctms.record.created", "ctms.record.created", "ctms.record.updated"]
    path, created, headers = receiver.events[1]
    assert path == "/webhooks/ctms"
    assert headers["webhook-id"].startswith("msg_")
    data = created["data"]
    record = vault.state.find("crm_activity__v", "external_id__v", "A-1")
    assert record is not None
    assert data["object"] == "crm_activity__v"
    assert data["id"] == record["id"]
    assert data["record"]["channel__v"] == ["video__v"]
    # a type is an id, as on a real vault: the name is object_type__vr.api_name__v
    clinical = vault.state.object_type_id("crm_activity__v", "clinical_activity__v")
    assert clinical.startswith("OOT")
    assert data["record"]["object_type__v"] == clinical
    # the bridge's own write: modified_by__v is the integration user, which is how it spots the echo
    assert data["record"]["modified_by__v"] == vault.state.user_id(API_USER)
    updated = receiver.events[2][1]["data"]
    assert updated["modified_date__v"] == record["modified_date__v"] == updated["record"]["modified_date__v"]
    assert created["timestamp"].endswith("Z")


async def test_admin_user_routes_emit_and_deletions_carry_no_record(vault: Vault, receiver: Receiver) -> None:
    wire(vault.state, receiver)

    created = await vault.client.post("/_sim/records/study__v", json={"name__v": "STUDY-1"})
    study_id = created.json()["id"]
    patched = await vault.client.patch(f"/_sim/records/study__v/{study_id}", json={"phase__v": "phase_3__v"})
    deleted = await vault.client.delete(f"/_sim/records/study__v/{study_id}")
    await vault.state.emitter.drain()

    assert (created.status_code, patched.status_code, deleted.status_code) == (201, 200, 204)
    assert created.json()["created_by__v"] == vault.state.human_user_id()
    assert receiver.types() == ["ctms.record.created", "ctms.record.updated", "ctms.record.deleted"]
    gone = receiver.events[2][1]["data"]
    assert gone["id"] == study_id
    assert gone["object"] == "study__v"
    assert "record" not in gone
    assert (await vault.get("/objects/deletions/vobjects/study__v"))["data"][0]["id"] == study_id


async def test_thin_events_omit_the_record(vault: Vault, receiver: Receiver) -> None:
    wire(vault.state, receiver, thin=True)

    person(vault.state)
    await vault.state.emitter.drain()

    data = receiver.events[0][1]["data"]
    assert set(data) == {"object", "id", "modified_date__v"}


async def test_emission_can_be_switched_off_and_rewired_over_http(vault: Vault, receiver: Receiver) -> None:
    wire(vault.state, receiver)
    off = await vault.client.put(
        "/_sim/webhook", json={"url": "http://bridge.test", "secret": receiver.secret, "enabled": False}
    )
    person(vault.state, "HCP-1")
    await vault.state.emitter.drain()
    assert off.json()["enabled"] is False
    assert receiver.events == []

    on = await vault.client.put(
        "/_sim/webhook", json={"url": "http://bridge.test", "secret": receiver.secret, "thin": True}
    )
    person(vault.state, "HCP-2")
    await vault.state.emitter.drain()

    assert on.json() == {
        "url": "http://bridge.test",
        "has_secret": True,
        "thin": True,
        "enabled": True,
        "connection_id": None,
        "intake": "webhooks",
    }
    assert receiver.types() == ["ctms.record.created"]
    no_secret = await vault.client.put("/_sim/webhook", json={"url": "http://bridge.test"})
    assert no_secret.status_code == 422
    log = (await vault.client.get("/_sim/events")).json()
    assert [(e["type"], e["status"]) for e in log] == [("ctms.record.created", 202)]


async def test_a_wrong_secret_is_rejected_by_the_receiver(vault: Vault, receiver: Receiver) -> None:
    wire(vault.state, receiver)
    vault.state.emitter.target.secret = Receiver().secret  # type: ignore[union-attr]
    vault.state.emitter.max_attempts = 1

    person(vault.state)
    await vault.state.emitter.drain()

    assert receiver.rejected == 1
    assert receiver.events == []
    assert vault.state.emitter.log[0].status == 401


async def test_admin_user_actions_validate_like_the_api(vault: Vault) -> None:
    bad = await vault.client.post("/_sim/records/crm_activity__v", json={"channel__v": "fax__v"})
    unknown_object = await vault.client.post("/_sim/records/nothing__c", json={})
    unknown_record = await vault.client.patch(
        "/_sim/records/study__v/0ST000000009999", json={"phase__v": "I"}
    )
    unknown_user = await vault.client.post("/_sim/records/study__v?as_user=ghost", json={"name__v": "S"})
    as_john = await vault.client.post(
        "/_sim/records/study__v?as_user=john.carter@sim.example.com", json={"name__v": "S"}
    )

    assert bad.status_code == 422
    assert bad.json()["detail"]["errors"][0]["type"] == "INVALID_DATA"
    assert unknown_object.status_code == 404
    assert unknown_record.status_code == 404
    assert unknown_user.status_code == 422
    assert as_john.json()["created_by__v"] == vault.state.human_user_id("john.carter@sim.example.com")
    listed = (await vault.client.get("/_sim/records/study__v")).json()
    assert [s["name__v"] for s in listed] == ["S"]


async def test_reset_forgets_data_but_keeps_users_and_wiring(vault: Vault, receiver: Receiver) -> None:
    wire(vault.state, receiver)
    person(vault.state)

    assert (await vault.client.post("/_sim/reset")).status_code == 204

    assert vault.state.records_of("person__sys") == []
    assert vault.state.user_id(API_USER) is not None
    assert vault.state.sessions == {}
    assert vault.state.emitter.target is not None


# ---- Vault CRM flavor --------------------------------------------------------------------------------


def _account(vault: Vault) -> dict[str, object]:
    return vault.state.user_create(
        "account__v", {"first_name__v": "Ana", "last_name__v": "Silva", "external_id__v": "HCP-000123"}
    )


async def test_crm_call_changes_by_people_are_sent_to_vault(crm_vault: Vault, receiver: Receiver) -> None:
    vault = crm_vault
    wire(vault.state, receiver, connection_id="conn-42")
    account = _account(vault)

    created = await vault.client.post(
        "/_sim/records/call2__v",
        json={
            "account__v": account["id"],
            "call_date__v": "2026-11-19",
            "call_channel__v": "video__v",
            "call2_status__v": "submitted__v",
            "subject__v": "Protocol Q&A",
        },
    )
    await vault.state.emitter.drain()

    assert created.status_code == 201
    assert receiver.types() == ["crm.call.sent_to_vault"]  # the account itself raised no event
    path, payload, _ = receiver.events[0]
    assert path == "/webhooks/crm/conn-42"
    record = payload["data"]["record"]
    assert record["id"] == created.json()["id"]
    assert record["call_channel__v"] == ["video__v"]
    assert record["call2_status__v"] == ["submitted__v"]
    assert record["account__vr"]["external_id__v"] == "HCP-000123"
    assert record["created_by__vr"] == {
        "id": vault.state.human_user_id(),
        "first_name__sys": "Maria",
        "last_name__sys": "Costa",
        "email__sys": "maria.costa@example.com",
    }


async def test_crm_send_to_vault_action_and_deletion(crm_vault: Vault, receiver: Receiver) -> None:
    vault = crm_vault
    wire(vault.state, receiver, connection_id="conn-42")
    call = vault.state.user_create("call2__v", {"account__v": _account(vault)["id"], "subject__v": "x"})

    sent = await vault.client.post(f"/_sim/crm/calls/{call['id']}/send-to-vault-clinical")
    missing = await vault.client.post("/_sim/crm/calls/V2C000000009999/send-to-vault-clinical")
    await vault.client.delete(f"/_sim/records/call2__v/{call['id']}")
    await vault.state.emitter.drain()

    assert sent.status_code == 202
    assert missing.status_code == 404
    assert receiver.types() == ["crm.call.sent_to_vault", "crm.call.sent_to_vault", "crm.call.deleted"]
    deleted = receiver.events[2][1]["data"]
    assert deleted["Id"] == call["id"]
    assert deleted["deleted_at"].endswith("Z")


async def test_crm_api_writes_and_other_objects_emit_nothing(crm_vault: Vault, receiver: Receiver) -> None:
    vault = crm_vault
    wire(vault.state, receiver, connection_id="conn-42")
    account = _account(vault)

    body = await vault.post(
        "/vobjects/vault_clinical_interaction__v?idParam=vault_activity_id__v",
        [
            {
                "vault_activity_id__v": "V6A000000001001",
                "account__v": account["id"],
                "call_channel__v": "phone__v",
            }
        ],
    )
    await vault.post("/vobjects/call2__v", [{"account__v": account["id"]}])
    await vault.state.emitter.drain()

    assert body["data"][0]["data"]["event"] == "created__sys"
    assert receiver.events == []


async def test_crm_send_to_vault_needs_a_connection_id(crm_vault: Vault, receiver: Receiver) -> None:
    vault = crm_vault
    wire(vault.state, receiver)

    response = await vault.client.post("/_sim/records/call2__v", json={"account__v": _account(vault)["id"]})

    assert response.status_code == 409
    assert "connection id" in response.json()["detail"]
    assert vault.state.records_of("call2__v") == []  # refused before anything changed
