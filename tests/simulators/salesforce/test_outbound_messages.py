"""Outbound Messages (issue 15): with an Outbound Message URL set, "Send to Vault Clinical" sends the call
as SOAP notifications (the org's id, one Notification with the call's own fields), retried with the same
notification id until acked; deletions send none."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request, Response

from app.domain import outbound_messages as om
from app.simulators.salesforce import SalesforceState
from tests.simulators.salesforce.test_events import logged_call

URL = "http://bridge.test/webhooks/crm/conn-1/outbound-messages/token-1"


class Sink:
    def __init__(self, refuse_first: int = 0) -> None:
        self.bodies: list[bytes] = []
        self.content_types: list[str] = []
        self.refuse_first = refuse_first

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/webhooks/crm/{connection_id}/outbound-messages/{token}")
        async def receive(request: Request) -> Response:
            self.bodies.append(await request.body())
            self.content_types.append(request.headers["content-type"])
            if len(self.bodies) <= self.refuse_first:
                return Response(
                    om.fault("STORE_UNAVAILABLE", "later", server=True), 503, media_type="text/xml"
                )
            return Response(om.ack(), media_type="text/xml")

        return app


def wired(state: SalesforceState, sink: Sink) -> None:
    state.emitter.transport = httpx.ASGITransport(sink.app())
    state.configure_outbound_messages(URL)


async def test_a_call_sent_to_vault_is_one_notification_with_the_calls_fields(
    anon: httpx.AsyncClient, state: SalesforceState
) -> None:
    sink = Sink()
    state.emitter.transport = httpx.ASGITransport(sink.app())
    put = await anon.put("/_sim/outbound-messages", json={"url": URL})
    assert put.json() == {"url": URL}
    call = logged_call(state, Subject_vod__c="Q&A <follow-up>")
    assert (await anon.post(f"/_sim/calls/{call['Id']}/send-to-vault")).status_code == 202
    await state.emitter.drain()

    [body] = sink.bodies
    assert sink.content_types[0].startswith("text/xml")
    message = om.parse(body)  # the bridge's own hardened parser reads it
    assert message.organization_id == state.org_id
    [notification] = message.notifications
    assert notification.object == "Call2_vod__c"
    assert notification.fields["Id"] == call["Id"]
    assert notification.fields["Account_vod__c"] == call["Account_vod__c"]
    assert notification.fields["Subject_vod__c"] == "Q&A <follow-up>"
    assert notification.fields["CreatedById"] == call["CreatedById"]
    assert "CreatedBy" not in notification.fields  # an Outbound Message carries no relationships

    state.delete_record("Call2_vod__c", call["Id"])
    await state.emitter.drain()
    assert len(sink.bodies) == 1  # no Outbound Message for a deletion: the Transfer job finds it


async def test_an_unacked_message_is_sent_again_with_the_same_notification(state: SalesforceState) -> None:
    sink = Sink(refuse_first=1)
    wired(state, sink)
    call = logged_call(state)
    state.send_call_to_vault(call["Id"])
    await state.emitter.drain()

    first, again = (om.parse(b).notifications[0].id for b in sink.bodies)
    assert first == again
    assert [e.status for e in state.emitter.log] == [200]
