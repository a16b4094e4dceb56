"""The steps both webhook endpoints share: size, media type, signature, JSON, envelope, store, enqueue.

Order matters: nothing is parsed before the signature is checked, and nothing is answered 202 before the
event is committed. A failed enqueue still answers 202: the sweeper picks the stored event up.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app import metrics
from app.api.problems import Problem
from app.context import Resources
from app.domain.envelopes import StoredFields
from app.logging import get_logger
from app.services.intake import EventUnstorable, NewEvent, StoreUnavailable, new_event
from app.signing import SignatureError, verify

log = get_logger(__name__)
DB_DOWN = (OperationalError, InterfaceError, DBAPIError, OSError, TimeoutError)


class Accepted(BaseModel):
    event_id: int = Field(examples=[1042])
    status: str = Field(description="accepted, or duplicate when this webhook-id was stored before")


def reject(source: str, problem: Problem) -> Problem:
    metrics.WEBHOOKS.labels(source, "rejected", problem.code).inc()
    return problem


async def read_body(request: Request, source: str, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise reject(source, Problem(413, "BODY_TOO_LARGE", f"the body is larger than {limit} bytes"))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise reject(source, Problem(413, "BODY_TOO_LARGE", f"the body is larger than {limit} bytes"))
        chunks.append(chunk)
    return b"".join(chunks)


def check_media_type(request: Request, source: str) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise reject(source, Problem(415, "UNSUPPORTED_MEDIA_TYPE", "send the event as application/json"))


def check_signature(request: Request, source: str, secrets: Iterable[str], body: bytes) -> str:
    try:
        return verify(secrets, request.headers, body, now=int(time.time())).msg_id
    except SignatureError as exc:
        raise reject(source, Problem(401, exc.code, exc.message)) from None


def parse(
    source: str, body: bytes, validator: Callable[[Any], StoredFields]
) -> tuple[dict[str, Any], StoredFields]:
    unstorable = Problem(
        422, "BODY_UNSTORABLE", "the body holds U+0000 or a lone surrogate, which cannot be stored"
    )
    if b"\x00" in body:
        raise reject(source, unstorable)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        if _lenient_json(body):  # valid JSON, but with lone surrogates PostgreSQL cannot store
            raise reject(source, unstorable) from None
        raise reject(source, Problem(415, "BODY_NOT_JSON", "the body is not valid JSON")) from None
    if b"\\u0000" in body and _holds_nul(document):  # cheap test first: most bodies skip the walk
        raise reject(source, unstorable)
    if not isinstance(document, dict):
        raise reject(source, Problem(422, "ENVELOPE_INVALID", "the body must be a JSON object"))
    try:
        fields = validator(document)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        raise reject(
            source,
            Problem(
                422, "ENVELOPE_INVALID", "the event does not match the envelope", extra={"errors": errors}
            ),
        ) from None
    return document, fields


def _lenient_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


async def store_and_enqueue(
    resources: Resources,
    *,
    source: str,
    sender: str,
    connection_id: str | None,
    webhook_id: str,
    body: bytes,
    fields: StoredFields,
) -> Accepted:
    """Store through the process's group commit; answer only from the commit that holds the row."""
    event = new_event(
        fields,
        sender=sender,
        webhook_id=webhook_id,
        source=source,
        connection_id=connection_id,
        payload_json=body.decode(),  # the body as signed; parse() proved it is UTF-8 JSON
    )
    [(event_id, new)] = await store_all(resources, source, [event])
    if not new:
        return Accepted(event_id=event_id, status="duplicate")
    log.info("webhook_accepted", source=source, event_id=event_id, type=fields.type, object=fields.object)
    return Accepted(event_id=event_id, status="accepted")


async def store_all(resources: Resources, source: str, events: list[NewEvent]) -> list[tuple[int, bool]]:
    """Store every event (concurrently, so one group commit takes them together); (id, new) for each, in
    order. Answers 422 or 503 when any could not be stored: a sender's retry finds the others stored."""
    try:
        writer = resources.inbox_writer
        if len(events) == 1:  # the webhooks' hot path: no task to wrap one awaited store
            answers = [await writer.store(events[0])]
        else:
            answers = list(await asyncio.gather(*(writer.store(e) for e in events)))
    except EventUnstorable as exc:
        log.warning("webhook_unstorable", source=source, sqlstate=exc.sqlstate)
        raise reject(
            source, Problem(422, "BODY_UNSTORABLE", "the database cannot store a value in this event")
        ) from None
    except StoreUnavailable as exc:
        log.error("webhook_store_failed", source=source, error=str(exc))
        raise reject(
            source,
            Problem(
                503,
                "STORE_UNAVAILABLE",
                "the event could not be stored; retry later",
                headers={"Retry-After": "10"},
            ),
        ) from None
    fresh = sum(1 for _, new in answers if new)
    if fresh:
        resources.doorbell.ring()
        metrics.WEBHOOKS.labels(source, "accepted", "").inc(fresh)
    if fresh < len(answers):
        metrics.WEBHOOKS.labels(source, "duplicate", "").inc(len(answers) - fresh)
    return answers


@contextmanager
def timed(source: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        metrics.INGEST_LATENCY.labels(source).observe(time.perf_counter() - started)
