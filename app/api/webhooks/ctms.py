"""POST /webhooks/ctms: object changes in the CTMS vault (CONTRACT.md section 2)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from app.api.deps import ResourcesDep
from app.api.problems import Problem, problem_responses
from app.api.webhooks import receive
from app.domain.envelopes import validate_ctms

router = APIRouter(tags=["webhooks"])
SOURCE = "ctms"


@router.post(
    "/webhooks/ctms",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Receive a CTMS record change (Standard Webhooks signed)",
    description=(
        "Verifies the Standard Webhooks signature over the raw body with any of `BRIDGE_CTMS_WEBHOOK_SECRETS`, "
        "stores the event once per `webhook-id`, and answers 202 only after it is stored. A repeated "
        "`webhook-id` answers 202 with status `duplicate` and changes nothing."
    ),
    responses=problem_responses(401, 413, 415, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "example": {
                        "type": "ctms.record.updated",
                        "timestamp": "2026-11-20T10:15:00Z",
                        "data": {
                            "object": "crm_activity__v",
                            "id": "V6A000000001001",
                            "modified_date__v": "2026-11-20T10:14:58Z",
                            "record": {"id": "V6A000000001001", "object_type__v": "clinical_activity__v"},
                        },
                    }
                }
            },
        }
    },
)
async def receive_ctms_event(request: Request, resources: ResourcesDep) -> receive.Accepted:
    settings = resources.settings
    with receive.timed(SOURCE):
        body = await receive.read_body(request, SOURCE, settings.webhook_max_body_bytes)
        receive.check_media_type(request, SOURCE)
        if not settings.ctms_secrets:
            raise receive.reject(
                SOURCE, Problem(401, "NO_SECRET_CONFIGURED", "BRIDGE_CTMS_WEBHOOK_SECRETS is not set")
            )
        webhook_id = receive.check_signature(request, SOURCE, settings.ctms_secrets, body)
        _document, fields = receive.parse(SOURCE, body, validate_ctms)
        return await receive.store_and_enqueue(
            resources,
            source=SOURCE,
            sender=SOURCE,
            connection_id=None,
            webhook_id=webhook_id,
            body=body,
            fields=fields,
        )
