"""Intake: store an accepted event exactly once.

Webhooks go through the process's group commit (`InboxWriter`, on `Resources.inbox_writer`); events that
catch-up finds are stored in the caller's session with `store_event`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.envelopes import StoredFields
from app.repositories.inbox_store import NewEvent, store_many
from app.repositories.inbox_writer import EventUnstorable, StoreUnavailable

__all__ = ["EventUnstorable", "NewEvent", "StoreUnavailable", "new_event", "store_event"]


def new_event(
    fields: StoredFields,
    *,
    sender: str,
    webhook_id: str,
    source: str,
    connection_id: str | None,
    payload_json: str,
) -> NewEvent:
    """The row for an event whose envelope gave ``fields``; ``payload_json`` is what is kept (valid JSON)."""
    return NewEvent(
        sender=sender,
        webhook_id=webhook_id,
        source=source,
        connection_id=connection_id,
        type=fields.type,
        object=fields.object,
        record_id=fields.record_id,
        source_modified_at=fields.source_modified_at,
        payload_json=payload_json,
    )


async def store_event(
    session: AsyncSession,
    *,
    source: str,
    sender: str,
    connection_id: str | None,
    webhook_id: str,
    document: dict[str, Any],
    type_: str,
    object_: str | None,
    record_id: str | None,
    source_modified_at: datetime | None,
) -> tuple[int, bool]:
    """Store in the caller's transaction, with the same statement as the webhooks' group commit."""
    event = NewEvent(
        sender=sender,
        webhook_id=webhook_id,
        source=source,
        connection_id=connection_id,
        type=type_,
        object=object_,
        record_id=record_id,
        source_modified_at=source_modified_at,
        payload_json=orjson.dumps(document).decode(),
    )
    [answer] = await store_many(await session.connection(), [event])
    return answer
