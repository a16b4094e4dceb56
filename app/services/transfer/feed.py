"""Caught-up changes enter through the same door as webhooks: an inbox event, validated by the same
envelope rules, stored once per (sender, id). The id names the change, so a second run adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.envelopes import StoredFields, validate_crm, validate_ctms
from app.repositories import inbox
from app.repositories.inbox_store import NewEvent, store_many
from app.services import intake

CATCH_UP_PREFIX = "transfer:"  # the webhook_id of every event a Transfer run found itself


def load_prefix(load_id: int) -> str:
    """The webhook_id prefix of the events an initial load stored."""
    return f"load:{load_id}:"


def _stamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def inbox_event(
    fields: StoredFields, source: str, connection_id: str | None, webhook_id: str, document: dict[str, Any]
) -> NewEvent:
    """The inbox row of an event the bridge made itself: sent by the CTMS, or by a connection's org."""
    sender = connection_id or "ctms"
    payload = orjson.dumps(document).decode()
    return intake.new_event(
        fields,
        sender=sender,
        webhook_id=webhook_id,
        source=source,
        connection_id=connection_id,
        payload_json=payload,
    )


def ctms_event(
    type_: str, data: dict[str, Any], prefix: str = CATCH_UP_PREFIX
) -> tuple[NewEvent, StoredFields]:
    """A CTMS change as an inbox row; its id names the change (type, object, record, modification)."""
    document = {"type": type_, "timestamp": _stamp(), "data": data}
    fields = validate_ctms(document)
    change = data.get("modified_date__v") or ""
    webhook_id = f"{prefix}{type_.rsplit('.', 1)[-1]}:{data['object']}:{data['id']}:{change}"
    return inbox_event(fields, "ctms", None, webhook_id, document), fields


def crm_event(
    connection_id: str, type_: str, data: dict[str, Any], prefix: str = CATCH_UP_PREFIX
) -> tuple[NewEvent, StoredFields]:
    document = {"type": type_, "timestamp": _stamp(), "data": data}
    fields = validate_crm(document)
    change = fields.source_modified_at.isoformat() if fields.source_modified_at else ""
    webhook_id = f"{prefix}{type_.rsplit('.', 1)[-1]}:{fields.record_id}:{change}"
    return inbox_event(fields, "crm", connection_id, webhook_id, document), fields


async def feed_ctms(session: AsyncSession, type_: str, data: dict[str, Any]) -> tuple[int, bool]:
    event, fields = ctms_event(type_, data)
    if await _known(session, "ctms", fields):
        return 0, False
    [answer] = await store_many(await session.connection(), [event])
    return answer


async def feed_crm(
    session: AsyncSession, connection_id: str, type_: str, data: dict[str, Any]
) -> tuple[int, bool]:
    event, fields = crm_event(connection_id, type_, data)
    if await _known(session, connection_id, fields):
        return 0, False
    [answer] = await store_many(await session.connection(), [event])
    return answer


async def feed_many(session: AsyncSession, events: list[NewEvent]) -> list[tuple[int, bool]]:
    """A page of events in one statement (in the caller's transaction): (event id, new) per event."""
    if not events:
        return []
    return await store_many(await session.connection(), events)


async def _known(session: AsyncSession, sender: str, fields: StoredFields) -> bool:
    """A change a webhook already brought in needs no second event (it would only be a twin)."""
    return await inbox.has_change(
        session, sender, fields.object, fields.record_id, fields.source_modified_at, fields.type
    )
