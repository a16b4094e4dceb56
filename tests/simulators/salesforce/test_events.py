"""Events to the bridge: "Send to Vault Clinical" and deletions, signed per Standard Webhooks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook

from app.signing import generate_secret
from app.simulators.common.server import ServerThread
from app.simulators.salesforce import SalesforceState, create_salesforce_app
from tests.simulators.salesforce.conftest import V

SECRET = generate_secret()


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self) -> Any:
        """The payload, only if the signature checks out with the connection's secret."""
        return Webhook(SECRET).verify(self.body, self.headers)


@dataclass
class Receiver:
    deliveries: list[Delivery] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/webhooks/crm/{connection_id}")
        async def receive(request: Request) -> Response:
            self.deliveries.append(Delivery(request.url.path, dict(request.headers), await request.body()))
            return Response(status_code=202)

        return app


@pytest.fixture
def receiver(state: SalesforceState) -> Receiver:
    sink = Receiver()
    state.emitter.transport = httpx.ASGITransport(sink.app())
    state.configure_webhook("http://bridge.test", SECRET, "conn-1")
    return sink


def logged_call(state: SalesforceState, **fields: Any) -> dict[str, Any]:
    account = state.create_record(
        "Account", {"FirstName": "Rui", "LastName": "Costa", "External_ID_vod__c": "HCP-000123"}
    )
    body = {
        "Account_vod__c": account["Id"],
        "Call_Date_vod__c": "2026-11-19",
        "Call_Channel_vod__c": "Video_vod",
        "Status_vod__c": "Submitted_vod",
        "Subject_vod__c": "Protocol Q&A",
        **fields,
    }
    return state.create_record("Call2_vod__c", body)


async def test_send_to_vault_emits_the_contract_payload(
    anon: httpx.AsyncClient, state: SalesforceState, receiver: Receiver
) -> None:
    call = logged_call(state)
    response = await anon.post(f"/_sim/calls/{call['Id']}/send-to-vault")
    assert response.status_code == 202
    await state.emitter.drain()

    [delivery] = receiver.deliveries
    assert delivery.path == "/webhooks/crm/conn-1"
    event = delivery.verified()
    assert event["type"] == "crm.call.sent_to_vault"
    assert event["timestamp"].endswith("Z")
    assert event["data"] == {
        "record": {
            "attributes": {"type": "Call2_vod__c"},
            "Id": call["Id"],
            "Call_Date_vod__c": "2026-11-19",
            "Call_Channel_vod__c": "Video_vod",
            "Status_vod__c": "Submitted_vod",
            "Subject_vod__c": "Protocol Q&A",
            "Account_vod__c": call["Account_vod__c"],
            "Account": {"Id": call["Account_vod__c"], "External_ID_vod__c": "HCP-000123"},
            "CreatedBy": {"FirstName": "Ana", "LastName": "Silva", "Email": "ana.silva@example.com"},
            "LastModifiedDate": "2026-11-20T10:00:00.000+0000",
        }
    }
    assert response.json() == event["data"]
    assert [e.type for e in state.emitter.log] == ["crm.call.sent_to_vault"]


async def test_payload_follows_the_configured_identifier_and_datetime(
    state: SalesforceState, receiver: Receiver
) -> None:
    state.account_identifier_fields = ("NPI_vod__c",)
    call = logged_call(state, Call_Date_vod__c=None, Call_Datetime_vod__c="2026-11-19T23:30:00-02:00")
    state.update_record("Account", call["Account_vod__c"], {"NPI_vod__c": "1234567890"})
    data = state.send_call_to_vault(call["Id"])
    await state.emitter.drain()
    record = receiver.deliveries[0].verified()["data"]["record"]
    assert record == data["record"]
    assert record["Account"] == {"Id": call["Account_vod__c"], "NPI_vod__c": "1234567890"}
    assert (record["Call_Date_vod__c"], record["Call_Datetime_vod__c"]) == (
        None,
        "2026-11-20T01:30:00.000+0000",
    )


async def test_deleting_a_sent_call_emits_a_deletion(
    api: httpx.AsyncClient, state: SalesforceState, receiver: Receiver
) -> None:
    sent, unsent = logged_call(state), logged_call(state)
    state.send_call_to_vault(sent["Id"])
    assert (await api.delete(f"{V}/sobjects/Call2_vod__c/{unsent['Id']}")).status_code == 204
    assert (await api.delete(f"/_sim/records/Call2_vod__c/{sent['Id']}")).status_code == 204
    await state.emitter.drain()

    events = [d.verified() for d in receiver.deliveries]
    assert [e["type"] for e in events] == ["crm.call.sent_to_vault", "crm.call.deleted"]
    assert events[1]["data"] == {"Id": sent["Id"], "deleted_at": "2026-11-20T10:00:00.000+0000"}


async def test_emission_can_be_switched_off(state: SalesforceState, receiver: Receiver) -> None:
    state.emitter.enabled = False
    call = logged_call(state)
    state.send_call_to_vault(call["Id"])
    state.delete_record("Call2_vod__c", call["Id"])
    await state.emitter.drain()
    assert receiver.deliveries == []


async def test_no_target_means_no_event(anon: httpx.AsyncClient, state: SalesforceState) -> None:
    call = logged_call(state)
    assert (await anon.post(f"/_sim/calls/{call['Id']}/send-to-vault")).status_code == 202
    assert state.emitter.log == []


async def test_sending_an_unknown_call_is_404(anon: httpx.AsyncClient, receiver: Receiver) -> None:
    response = await anon.post("/_sim/calls/a0B5g0000000000AAA/send-to-vault")
    assert response.status_code == 404
    assert receiver.deliveries == []


async def test_events_reach_a_real_server(state: SalesforceState) -> None:
    sink = Receiver()
    with ServerThread(sink.app()) as bridge, ServerThread(create_salesforce_app(state)) as org:
        async with httpx.AsyncClient(base_url=org.url) as admin:
            config = {"url": bridge.url, "secret": SECRET, "connection_id": "conn-9"}
            assert (await admin.put("/_sim/webhook", json=config)).json() == {
                "url": bridge.url,
                "connection_id": "conn-9",
                "enabled": True,
            }
            call = orjson.loads(
                (await admin.post("/_sim/records/Call2_vod__c", json={"Subject_vod__c": "Hi"})).content
            )
            assert (await admin.post(f"/_sim/calls/{call['Id']}/send-to-vault")).status_code == 202
            for _ in range(100):
                if sink.deliveries:
                    break
                await asyncio.sleep(0.02)
    [delivery] = sink.deliveries
    assert delivery.path == "/webhooks/crm/conn-9"
    assert delivery.verified()["data"]["record"]["Subject_vod__c"] == "Hi"


def test_sync_callers_deliver_before_returning(state: SalesforceState, receiver: Receiver) -> None:
    """A demo script without an event loop still gets its event out."""
    call = logged_call(state)
    state.send_call_to_vault(call["Id"])
    state.delete_record("Call2_vod__c", call["Id"])
    assert [d.verified()["type"] for d in receiver.deliveries] == [
        "crm.call.sent_to_vault",
        "crm.call.deleted",
    ]
