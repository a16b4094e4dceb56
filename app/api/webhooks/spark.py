"""POST /webhooks/ctms/spark: Vault Spark messages from the CTMS vault, with no relay in between.

Each message is checked (request type, the URL it was signed for, validity window, vault id), its signature
verified with the vault's certificate, and each item stored as a thin CTMS event (the record is read from
the vault when delivered) before the 200 that tells Vault the message arrived. ``message_id`` with the
item is the idempotency key, so Vault's retries (``send_attempt`` > 1) store nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError

from app.api.deps import ResourcesDep
from app.api.problems import Problem, problem_responses
from app.api.webhooks import receive
from app.clients.errors import ClientError, PermanentError
from app.context import Resources
from app.domain import spark
from app.logging import get_logger
from app.services.intake import NewEvent, new_event

router = APIRouter(tags=["webhooks"])
PATH = "/webhooks/ctms/spark"
METRIC_SOURCE = "spark"
log = get_logger(__name__)


class SparkAccepted(BaseModel):
    message_id: str = Field(examples=["bb28d4ca-3a37-4fef-91ae-93c3a4ec1d8d"])
    stored: int = Field(description="items stored now", examples=[3])
    duplicates: int = Field(description="items this message_id stored before (a retry)", examples=[0])
    event_ids: list[int] = Field(description="the inbox event of each distinct item, in order")


EXAMPLE = {
    "vault_name": "Clinical Operations",
    "vault_host_name": "myvault.veevavault.com",
    "queue_name": "bridge_ctms_changes__c",
    "message_id": "bb28d4ca-3a37-4fef-91ae-93c3a4ec1d8d",
    "send_attempt": 1,
    "enter_queue_timestamp": "2026-11-20T10:14:59.120Z",
    "send_message_timestamp": "2026-11-20T10:15:00.310Z",
    "message": {
        "attributes": {"object": "crm_activity__v", "event": "update"},
        "items": ["V6A000000001001", "V6A000000001002"],
    },
}


@router.post(
    PATH,
    summary="Receive a Vault Spark message (RSA signed by the vault)",
    description=(
        "For a Spark queue of the CTMS vault (README: Connecting a real Vault). The message's "
        "`X-VaultAPISignature-*` headers and `X-VaultAPI-SignatureV2` are verified with the certificate "
        "the vault serves for `X-VaultAPISignature-CertificateId` (fetched from `BRIDGE_VAULT_URL`, kept "
        "by id); a message outside its validity window, signed for another URL or from another vault than "
        "`BRIDGE_VAULT_ID` (required: every vault signs with the same certificate) is refused. `message.attributes` must name the `object` and the "
        "`event` (`insert`, `update` or `delete`); each of the up to 500 `items` (record ids) is stored as "
        "a thin CTMS event, and the answer is 200 only once all are stored. A repeated `message_id` "
        "stores nothing new."
    ),
    responses=problem_responses(401, 413, 415, 422, 503),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"example": EXAMPLE}}}},
)
async def receive_spark_message(request: Request, resources: ResourcesDep) -> SparkAccepted:
    with receive.timed(METRIC_SOURCE):
        body = await receive.read_body(request, METRIC_SOURCE, resources.settings.webhook_max_body_bytes)
        receive.check_media_type(request, METRIC_SOURCE)
        try:
            await _verify(request, resources, body)
            message = _parse(body)
            events = spark.thin_events(message)
        except spark.SparkRefused as exc:
            headers = {"Retry-After": "30"} if exc.status == 503 else None
            problem = Problem(exc.status, exc.code, exc.message, headers=headers)
            raise receive.reject(METRIC_SOURCE, problem) from None
        answers = await receive.store_all(resources, METRIC_SOURCE, [_new_event(e) for e in events])
        stored = sum(1 for _, new in answers if new)
        log.info(
            "spark_message_accepted",
            queue=message.queue_name,
            send_attempt=message.send_attempt,
            items=len(answers),
            stored=stored,
        )
        return SparkAccepted(
            message_id=message.message_id,
            stored=stored,
            duplicates=len(answers) - stored,
            event_ids=[event_id for event_id, _ in answers],
        )


async def _verify(request: Request, resources: Resources, body: bytes) -> None:
    signed = spark.signature_headers(request.headers)
    if not signed and not request.headers.get(spark.SIGNATURE_HEADER):
        raise spark.SparkRefused(401, "SIGNATURE_MISSING", "this is not a signed Spark message")
    vault_id = resources.settings.vault_id
    if not vault_id:  # every vault signs with the same certificate: the id is what makes a message ours
        raise spark.SparkRefused(503, "CTMS_NOT_CONFIGURED", "set BRIDGE_VAULT_ID to receive Spark messages")
    url = spark.check_envelope(signed, datetime.now(UTC), request.url.path, vault_id)
    signature = request.headers.get(spark.SIGNATURE_HEADER, "")
    if not signature:
        raise spark.SparkRefused(401, "SIGNATURE_MISSING", "the X-VaultAPI-SignatureV2 header is missing")
    certificate_id = spark.certificate_id(signed)
    try:
        pem = await resources.clients.spark_certificates().get(certificate_id)
    except PermanentError as exc:
        if exc.code == "CTMS_NOT_CONFIGURED":
            raise spark.SparkRefused(503, "CTMS_NOT_CONFIGURED", exc.message) from None
        raise spark.SparkRefused(401, exc.code, exc.message) from None
    except ClientError as exc:
        log.warning("spark_certificate_unavailable", code=exc.code)
        raise spark.SparkRefused(
            503, "CERTIFICATE_UNAVAILABLE", "the vault's certificate could not be had"
        ) from None
    urls = spark.urls_to_verify(url, str(request.url))
    spark.verify(pem, signature, [spark.string_to_verify(signed, body, u) for u in urls])


def _parse(body: bytes) -> spark.SparkMessage:
    try:
        return spark.SparkMessage.model_validate(orjson.loads(body))
    except orjson.JSONDecodeError:
        raise spark.SparkRefused(415, "BODY_NOT_JSON", "the body is not valid JSON") from None
    except ValidationError as exc:
        where = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors()[:5])
        raise spark.SparkRefused(422, "MESSAGE_INVALID", f"not a Spark message: {where}") from None


def _new_event(event: spark.ThinEvent) -> NewEvent:
    return new_event(
        event.fields,
        sender="ctms",
        webhook_id=event.webhook_id,
        source="ctms",
        connection_id=None,
        payload_json=orjson.dumps(event.document).decode(),
    )
