"""POST /webhooks/crm/{connection_id}/outbound-messages/{token}: Salesforce Outbound Messages, no relay.

Outbound Messages are not signed. What makes one trustworthy: the secret token in the URL (derived from
the connection's webhook secret, so rotating the secret rotates it), and the ``OrganizationId`` matching
the org the connection signs in to. Each ``Notification`` of a call is stored as a thin
``crm.call.sent_to_vault`` event (the worker reads the call, its account and its creator from the org)
before the ``<Ack>true</Ack>``; every refusal is a SOAP fault, which makes Salesforce send it again later.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import ResourcesDep
from app.api.problems import Problem
from app.api.webhooks import receive
from app.api.webhooks.crm import active_connection, webhook_secrets
from app.clients.crm import SalesforceGateway
from app.clients.errors import ClientError
from app.context import Resources
from app.domain import outbound_messages as om
from app.domain.envelopes import StoredFields, parse_timestamp
from app.logging import get_logger
from app.models import Connection
from app.services.intake import NewEvent, new_event
from app.services.names import crm_names_for
from app.signing import matches_path_token, path_token

router = APIRouter(tags=["webhooks"])
METRIC_SOURCE = "outbound"
TOKEN_PURPOSE = "salesforce-outbound-messages"  # noqa: S105 - a label mixed into the token, not a secret
SOAP_XML = "text/xml; charset=utf-8"
log = get_logger(__name__)


def outbound_message_path(connection_id: str, secret: str) -> str:
    """The path an admin gives the Outbound Message (after the bridge's public base URL)."""
    return f"/webhooks/crm/{connection_id}/outbound-messages/{path_token(secret, TOKEN_PURPOSE)}"


def _soap(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=SOAP_XML, headers=headers)


def _xml_responses() -> dict[int | str, dict[str, object]]:
    fault = {"content": {"text/xml": {"schema": {"type": "string"}}}}
    described = {
        400: "not a well-formed Outbound Message (DTDs and entities refused)",
        401: "the token is not this connection's",
        403: "OrganizationId is not the connection's org",
        404: "no active Salesforce connection with this id",
        413: "the body is too large",
        415: "not text/xml",
        422: "a value cannot be stored",
        503: "the org or the store cannot be reached now; Salesforce retries",
    }
    return {status: {"description": f"SOAP fault: {text}", **fault} for status, text in described.items()}


@router.post(
    "/webhooks/crm/{connection_id}/outbound-messages/{token}",
    summary="Receive a Salesforce Outbound Message (SOAP) for one Salesforce connection",
    description=(
        "For an Outbound Message on `Call2_vod__c` sent by a record-triggered Flow or workflow rule "
        "(README: Connecting a real Veeva CRM org). `token` comes with the connection's webhook secret "
        "(`GET /api/v1/connections/{id}/outbound-message-urls`). The body is parsed with DTDs and entities "
        "refused; `OrganizationId` must be the org the connection signs in to. Each `Notification` is "
        "stored once (its `Id` is the idempotency key) as a thin call event, then the answer is "
        "`<Ack>true</Ack>`. Any refusal is a SOAP fault without an Ack, so Salesforce sends it again."
    ),
    response_class=Response,
    responses={
        200: {"description": "stored: the SOAP ack", "content": {"text/xml": {"schema": {"type": "string"}}}},
        **_xml_responses(),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string"}}}},
    },
)
async def receive_outbound_message(
    connection_id: str, token: str, request: Request, resources: ResourcesDep
) -> Response:
    with receive.timed(METRIC_SOURCE):
        try:
            stored, duplicates = await _receive(connection_id, token, request, resources)
        except Problem as problem:
            server = problem.status >= 500
            headers = (
                {"Retry-After": problem.headers["Retry-After"]} if "Retry-After" in problem.headers else None
            )
            return _soap(problem.status, om.fault(problem.code, problem.detail, server=server), headers)
        except om.MessageRefused as exc:
            receive.reject(METRIC_SOURCE, Problem(exc.status, exc.code, exc.message))
            return _soap(exc.status, om.fault(exc.code, exc.message, server=exc.status >= 500))
        log.info(
            "outbound_message_accepted", connection_id=connection_id, stored=stored, duplicates=duplicates
        )
        return _soap(200, om.ack())


async def _receive(connection_id: str, token: str, request: Request, resources: Resources) -> tuple[int, int]:
    body = await receive.read_body(request, METRIC_SOURCE, resources.settings.webhook_max_body_bytes)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("text/xml", "application/xml"):
        raise receive.reject(
            METRIC_SOURCE, Problem(415, "UNSUPPORTED_MEDIA_TYPE", "send the Outbound Message as text/xml")
        )
    connection = await active_connection(resources, connection_id, METRIC_SOURCE)
    if connection.platform != "salesforce":
        raise receive.reject(
            METRIC_SOURCE,
            Problem(404, "CONNECTION_NOT_FOUND", "no active Salesforce connection with this id"),
        )
    if not matches_path_token(webhook_secrets(resources, connection), TOKEN_PURPOSE, token):
        raise receive.reject(METRIC_SOURCE, Problem(401, "TOKEN_INVALID", "this URL's token is not valid"))
    message = om.parse(body)
    await _check_organization(resources, connection, message.organization_id)
    events = _events(connection, message)
    answers = await receive.store_all(resources, METRIC_SOURCE, events)
    stored = sum(1 for _, new in answers if new)
    return stored, len(answers) - stored


async def _check_organization(resources: Resources, connection: Connection, organization_id: str) -> None:
    gateway = resources.clients.crm(connection)
    assert isinstance(gateway, SalesforceGateway)  # the platform was checked
    try:
        signed_in = await gateway.client.signed_in_organization()
    except ClientError as exc:
        log.warning("outbound_message_org_unknown", connection_id=connection.id, code=exc.code)
        raise receive.reject(
            METRIC_SOURCE,
            Problem(
                503, "ORG_UNAVAILABLE", "the org could not be signed in to", headers={"Retry-After": "60"}
            ),
        ) from None
    # Salesforce ids come in 15 (case-sensitive) and 18 characters; the first 15 are the same id
    if signed_in is None or signed_in[:15] != organization_id[:15]:
        raise receive.reject(
            METRIC_SOURCE,
            Problem(403, "ORGANIZATION_MISMATCH", "OrganizationId is not this connection's org"),
        )


def _events(connection: Connection, message: om.OutboundMessage) -> list[NewEvent]:
    call_object = crm_names_for(connection).call.object
    events = []
    for notification in message.notifications:
        if notification.object != call_object:
            raise om.MessageRefused(
                400,
                "OBJECT_NOT_SUPPORTED",
                f"only {call_object} notifications are taken, not {notification.object}",
            )
        record = {"attributes": {"type": call_object}, **notification.fields}
        modified = notification.fields.get("LastModifiedDate") or notification.fields.get("SystemModstamp")
        try:
            at = parse_timestamp(modified) if isinstance(modified, str) else datetime.now(UTC)
        except ValueError:
            at = datetime.now(UTC)
        document = {
            "type": "crm.call.sent_to_vault",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "data": {"record": record, "thin": True},
            "outbound_message": {"action_id": message.action_id, "notification_id": notification.id},
        }
        fields = StoredFields(
            type="crm.call.sent_to_vault", object=call_object, record_id=record["Id"], source_modified_at=at
        )
        events.append(
            new_event(
                fields,
                sender=connection.id,
                webhook_id=f"outbound:{notification.id}",
                source="crm",
                connection_id=connection.id,
                payload_json=orjson.dumps(document).decode(),
            )
        )
    return events
