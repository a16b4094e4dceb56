"""Caught-up changes enter through the same door as webhooks: an inbox event, validated by the same
envelope rules, stored once per (sender, id). The id names the change, so a second run adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.envelopes import StoredFields, validate_crm, validate_ctms
from app.repositories import inbox
from app.services import intake

CATCH_UP_PREFIX = "transfer:"  # the webhook_id of every event a Transfer run found itself


def _stamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def feed_ctms(session: AsyncSession, type_: str, data: dict[str, Any]) -> tuple[int, bool]:
    document = {"type": type_, "timestamp": _stamp(), "data": data}
    fields = validate_ctms(document)
    if await _known(session, "ctms", fields):
        return 0, False
    change = data.get("modified_date__v") or ""
    return await intake.store_event(
        session,
        source="ctms",
        sender="ctms",
        connection_id=None,
        webhook_id=f"{CATCH_UP_PREFIX}{type_.rsplit('.', 1)[-1]}:{data['object']}:{data['id']}:{change}",
        document=document,
        type_=fields.type,
        object_=fields.object,
        record_id=fields.record_id,
        source_modified_at=fields.source_modified_at,
    )


async def feed_crm(
    session: AsyncSession, connection_id: str, type_: str, data: dict[str, Any]
) -> tuple[int, bool]:
    document = {"type": type_, "timestamp": _stamp(), "data": data}
    fields = validate_crm(document)
    if await _known(session, connection_id, fields):
        return 0, False
    change = fields.source_modified_at.isoformat() if fields.source_modified_at else ""
    return await intake.store_event(
        session,
        source="crm",
        sender=connection_id,
        connection_id=connection_id,
        webhook_id=f"{CATCH_UP_PREFIX}{type_.rsplit('.', 1)[-1]}:{fields.record_id}:{change}",
        document=document,
        type_=fields.type,
        object_=fields.object,
        record_id=fields.record_id,
        source_modified_at=fields.source_modified_at,
    )


async def _known(session: AsyncSession, sender: str, fields: StoredFields) -> bool:
    """A change a webhook already brought in needs no second event (it would only be a twin)."""
    return await inbox.has_change(
        session, sender, fields.object, fields.record_id, fields.source_modified_at, fields.type
    )
