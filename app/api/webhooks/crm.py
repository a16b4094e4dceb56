"""POST /webhooks/crm/{connection_id}: calls sent to (or deleted from) Vault Clinical by one CRM connection."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from app.api.deps import ResourcesDep
from app.api.problems import Problem, problem_responses
from app.api.webhooks import receive
from app.crypto import SecretBox
from app.domain.envelopes import validate_crm
from app.logging import get_logger
from app.models import Connection
from app.repositories import connections

router = APIRouter(tags=["webhooks"])
SOURCE = "crm"
log = get_logger(__name__)


async def active_connection(resources: ResourcesDep, connection_id: str, source: str = SOURCE) -> Connection:
    """The active connection with this id, or the Problem a sender gets (404, or 503 with the store down)."""
    if "\x00" in connection_id:  # no connection id holds U+0000, and PostgreSQL refuses it in a query
        raise receive.reject(
            source, Problem(404, "CONNECTION_NOT_FOUND", "no active connection with this id")
        )
    try:
        async with resources.sessionmaker() as session:
            connection = await connections.get(session, connection_id)
    except receive.DB_DOWN as exc:
        log.error("webhook_connection_lookup_failed", error=type(exc).__name__)
        raise receive.reject(
            source,
            Problem(
                503,
                "STORE_UNAVAILABLE",
                "the connection could not be read; retry later",
                headers={"Retry-After": "10"},
            ),
        ) from None
    if connection is None or not connection.active:
        raise receive.reject(
            source, Problem(404, "CONNECTION_NOT_FOUND", "no active connection with this id")
        )
    return connection


def webhook_secrets(resources: ResourcesDep, connection: Connection) -> list[str]:
    secrets = SecretBox(resources.settings.encryption_key).open(connection.webhook_secrets_encrypted) or []
    return [str(s) for s in secrets]


@router.post(
    "/webhooks/crm/{connection_id}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Receive a CRM call event from one connection (Standard Webhooks signed)",
    description=(
        "Verifies the signature with the connection's own webhook secret(s), stores the event once per "
        "`webhook-id` and connection, and answers 202 only after it is stored. Unknown or inactive "
        "connections answer 404."
    ),
    responses=problem_responses(401, 404, 413, 415, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "example": {
                        "type": "crm.call.sent_to_vault",
                        "timestamp": "2026-11-20T10:15:00Z",
                        "data": {
                            "record": {
                                "attributes": {"type": "Call2_vod__c"},
                                "Id": "a0B5g00000XyZ12EAF",
                                "Call_Date_vod__c": "2026-11-19",
                                "Call_Channel_vod__c": "Video_vod",
                                "Status_vod__c": "Submitted_vod",
                                "Subject_vod__c": "Protocol Q&A",
                                "Account_vod__c": "0015g00000AbCdEAAV",
                                "LastModifiedDate": "2026-11-20T10:14:59.000+0000",
                            }
                        },
                    }
                }
            },
        }
    },
)
async def receive_crm_event(
    connection_id: str, request: Request, resources: ResourcesDep
) -> receive.Accepted:
    with receive.timed(SOURCE):
        body = await receive.read_body(request, SOURCE, resources.settings.webhook_max_body_bytes)
        receive.check_media_type(request, SOURCE)
        secrets = webhook_secrets(resources, await active_connection(resources, connection_id))
        webhook_id = receive.check_signature(request, SOURCE, secrets, body)
        _document, fields = receive.parse(SOURCE, body, validate_crm)
        return await receive.store_and_enqueue(
            resources,
            source=SOURCE,
            sender=connection_id,
            connection_id=connection_id,
            webhook_id=webhook_id,
            body=body,
            fields=fields,
        )
