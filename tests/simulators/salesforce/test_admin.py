"""``/_sim`` admin routes: drive the org over HTTP the way demos, benchmarks and other tests do."""

from __future__ import annotations

import httpx

from app.simulators.salesforce import SalesforceState
from tests.simulators.salesforce.conftest import CLIENT_ID, V, fetch_token


async def test_faults_round_trip(anon: httpx.AsyncClient, state: SalesforceState) -> None:
    assert (await anon.get("/_sim/faults")).json()["rate_limit_status"] == 403
    settings = {"error_rate": 0.25, "rate_limit_burst": 3, "rate_limit_status": 429, "latency_ms": 5}
    response = await anon.put("/_sim/faults", json=settings)
    assert response.status_code == 200
    assert {k: response.json()[k] for k in settings} == settings
    assert (state.faults.settings.error_rate, state.rate_limit_status) == (0.25, 429)
    assert (await anon.put("/_sim/faults", json={"rate_limit_status": 500})).status_code == 422


async def test_expire_tokens(api: httpx.AsyncClient) -> None:
    assert (await api.post("/_sim/tokens/expire")).json() == {"expired": 1}
    assert (await api.get(f"{V}/sobjects/Account/describe")).status_code == 401


async def test_call_log_read_and_clear(api: httpx.AsyncClient) -> None:
    await api.get(f"{V}/sobjects/Account/describe")
    calls = (await api.get("/_sim/calls")).json()
    assert [c["path"] for c in calls] == ["/services/oauth2/token", f"{V}/sobjects/Account/describe"]
    assert calls[0]["client_id"] == CLIENT_ID
    assert (await api.delete("/_sim/calls")).status_code == 204
    assert (await api.get("/_sim/calls")).json() == []


async def test_records_crud_as_a_crm_user(anon: httpx.AsyncClient, state: SalesforceState) -> None:
    user = (
        await anon.post(
            "/_sim/users", json={"first_name": "Rita", "last_name": "Neves", "email": "rita@example.com"}
        )
    ).json()
    created = await anon.post(
        "/_sim/records/Call2_vod__c", params={"user_id": user["id"]}, json={"Subject_vod__c": "Visit"}
    )
    assert created.status_code == 201
    call = created.json()
    assert (call["CreatedById"], call["Name"]) == (user["id"], "C-0000001")

    patched = await anon.patch(
        f"/_sim/records/Call2_vod__c/{call['Id']}", json={"Status_vod__c": "Saved_vod"}
    )
    assert patched.json()["Status_vod__c"] == "Saved_vod"
    assert patched.json()["LastModifiedById"] == state.crm_user_id
    assert (await anon.get(f"/_sim/records/Call2_vod__c/{call['Id']}")).json()["Subject_vod__c"] == "Visit"

    invalid = await anon.patch(f"/_sim/records/Call2_vod__c/{call['Id']}", json={"Status_vod__c": "Whatever"})
    assert invalid.status_code == 400
    assert invalid.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"

    assert (await anon.delete(f"/_sim/records/Call2_vod__c/{call['Id']}")).status_code == 204
    assert (await anon.get("/_sim/records/Call2_vod__c")).json() == []
    deleted = (await anon.get("/_sim/records/Call2_vod__c", params={"include_deleted": True})).json()
    assert [(r["Id"], r["IsDeleted"]) for r in deleted] == [(call["Id"], True)]
    assert (await anon.get("/_sim/records/Nope__c")).status_code == 404


async def test_register_a_client(anon: httpx.AsyncClient) -> None:
    assert (
        await anon.put("/_sim/clients", json={"client_id": "demo", "client_secret": "pw"})
    ).status_code == 204
    form = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "pw"}
    assert (await anon.post("/services/oauth2/token", data=form)).status_code == 200


def target_url(state: SalesforceState) -> str | None:
    return None if state.emitter.target is None else state.emitter.target.url


async def test_webhook_config_and_removal(anon: httpx.AsyncClient, state: SalesforceState) -> None:
    config = {
        "url": "http://bridge:8000",
        "secret": "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
        "connection_id": "c-1",
        "enabled": False,
    }
    response = await anon.put("/_sim/webhook", json=config)
    assert "secret" not in response.json()
    assert target_url(state) == "http://bridge:8000"
    assert (state.connection_id, state.emitter.enabled) == ("c-1", False)
    assert (await anon.delete("/_sim/webhook")).status_code == 204
    assert (target_url(state), state.connection_id) == (None, None)


async def test_limits(api: httpx.AsyncClient, state: SalesforceState) -> None:
    response = await api.put("/_sim/limits", json={"daily_api_limit": 10, "api_usage": 9})
    assert response.json()["daily_api_limit"] == 10
    assert (await api.get(f"{V}/sobjects/Account/describe")).headers["Sforce-Limit-Info"] == "api-usage=10/10"
    assert (await api.get(f"{V}/sobjects/Account/describe")).status_code == 403


async def test_reset_keeps_configuration_and_clears_data(
    api: httpx.AsyncClient, state: SalesforceState
) -> None:
    state.create_record("Account", {"LastName": "Gone"})
    await api.put("/_sim/faults", json={"error_rate": 1.0})
    assert (await api.post("/_sim/reset")).status_code == 204
    assert state.list_records("Account") == []
    assert [u["Email"] for u in state.list_records("User")] == [
        "integration@example.com",
        "ana.silva@example.com",
    ]
    assert (state.faults.settings.error_rate, state.api_usage, state.calls.calls) == (0.0, 0, [])
    assert (await api.get(f"{V}/sobjects/Account/describe")).status_code == 401  # sessions are gone
    api.headers["Authorization"] = f"Bearer {await fetch_token(api)}"  # the connected app is not
    assert (await api.get(f"{V}/sobjects/Account/describe")).status_code == 200
