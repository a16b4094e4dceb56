"""SQL that stores webhook events in the inbox, many per statement (the group commit's write).

Statements are built once at import. On PostgreSQL one statement inserts a whole batch from arrays
(`unnest`) and answers, for every row, its event id and whether it is new: the inserted ids come from
`RETURNING`, the ids of rows already there from a join in the same statement (no second round trip).
SQLite (the embedded default) runs one small INSERT per row inside the batch's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import DateTime, Text

from app.models import EventStatus, InboxEvent, utcnow


@dataclass(slots=True, frozen=True)
class NewEvent:
    """One verified webhook, ready to store. `payload_json` is the body exactly as signed (valid JSON)."""

    sender: str
    webhook_id: str
    source: str
    connection_id: str | None
    type: str
    object: str | None
    record_id: str | None
    source_modified_at: datetime | None
    payload_json: str


_COLUMNS = "sender, webhook_id, source, connection_id, type, object, record_id, source_modified_at, payload"
_ARRAYS = ("senders", "webhook_ids", "sources", "connection_ids", "types", "objects", "record_ids")

_PG_STORE = text(
    f"""
    WITH incoming AS (
        SELECT * FROM unnest(:senders, :webhook_ids, :sources, :connection_ids, :types, :objects,
                             :record_ids, :modified, :payloads)
            WITH ORDINALITY AS t({_COLUMNS}, n)
    ), inserted AS (
        INSERT INTO inbox_events ({_COLUMNS}, status, received_at)
        SELECT sender, webhook_id, source, connection_id, type, object, record_id, source_modified_at,
               payload::jsonb, '{EventStatus.RECEIVED.value}', now()
        FROM incoming ORDER BY n
        ON CONFLICT (sender, webhook_id) DO NOTHING
        RETURNING id, sender, webhook_id
    )
    SELECT i.n, coalesce(ins.id, e.id) AS id, ins.id IS NOT NULL AS new
    FROM incoming i
    LEFT JOIN inserted ins ON ins.sender = i.sender AND ins.webhook_id = i.webhook_id
    LEFT JOIN inbox_events e ON e.sender = i.sender AND e.webhook_id = i.webhook_id
    """  # noqa: S608 - only module constants are interpolated; every value is a bound parameter
).bindparams(
    *(bindparam(name, type_=postgresql.ARRAY(Text)) for name in (*_ARRAYS, "payloads")),
    bindparam("modified", type_=postgresql.ARRAY(DateTime(timezone=True))),
)

# A row that met a concurrent insert of the same key (another process, not yet committed when this
# statement's snapshot was taken) comes back without an id: read it again, in a new snapshot.
_PG_EXISTING = text(
    """
    SELECT t.n, e.id FROM unnest(:senders, :webhook_ids) WITH ORDINALITY AS t(sender, webhook_id, n)
    JOIN inbox_events e ON e.sender = t.sender AND e.webhook_id = t.webhook_id
    """
).bindparams(
    bindparam("senders", type_=postgresql.ARRAY(Text)),
    bindparam("webhook_ids", type_=postgresql.ARRAY(Text)),
)

_TABLE = InboxEvent.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table classes
_SQLITE_STORE = (
    sqlite.insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["sender", "webhook_id"])
    .returning(_TABLE.c.id)
)
_SQLITE_EXISTING = text("SELECT id FROM inbox_events WHERE sender = :sender AND webhook_id = :webhook_id")


async def store_many(conn: AsyncConnection, events: list[NewEvent]) -> list[tuple[int, bool]]:
    """Store each event unless its (sender, webhook_id) is there; answer (event id, new) per event, in
    order. The events must have distinct keys. The caller owns the transaction."""
    if conn.dialect.name == "postgresql":
        return await _store_many_pg(conn, events)
    return [await _store_one_sqlite(conn, event) for event in events]


async def _store_many_pg(conn: AsyncConnection, events: list[NewEvent]) -> list[tuple[int, bool]]:
    params: dict[str, Any] = {
        "senders": [e.sender for e in events],
        "webhook_ids": [e.webhook_id for e in events],
        "sources": [e.source for e in events],
        "connection_ids": [e.connection_id for e in events],
        "types": [e.type for e in events],
        "objects": [e.object for e in events],
        "record_ids": [e.record_id for e in events],
        "modified": [e.source_modified_at for e in events],
        "payloads": [e.payload_json for e in events],
    }
    answers: list[tuple[int, bool] | None] = [None] * len(events)
    missing: list[int] = []
    for n, event_id, new in await conn.execute(_PG_STORE, params):
        if event_id is None:
            missing.append(n - 1)
        else:
            answers[n - 1] = (int(event_id), bool(new))
    if missing:
        again = {
            "senders": [events[i].sender for i in missing],
            "webhook_ids": [events[i].webhook_id for i in missing],
        }
        for n, event_id in await conn.execute(_PG_EXISTING, again):
            answers[missing[n - 1]] = (int(event_id), False)
    if any(a is None for a in answers):  # cannot happen: a conflicting row is committed or we inserted
        raise LookupError("an inbox row was neither inserted nor found")
    return [a for a in answers if a is not None]


async def _store_one_sqlite(conn: AsyncConnection, event: NewEvent) -> tuple[int, bool]:
    values = {
        "sender": event.sender,
        "webhook_id": event.webhook_id,
        "source": event.source,
        "connection_id": event.connection_id,
        "type": event.type,
        "object": event.object,
        "record_id": event.record_id,
        "source_modified_at": event.source_modified_at,
        "payload": orjson.loads(event.payload_json),  # the JSON column wants a document
        "status": EventStatus.RECEIVED.value,
        "received_at": utcnow(),
    }
    new_id = (await conn.execute(_SQLITE_STORE, values)).scalar_one_or_none()
    if new_id is not None:
        return int(new_id), True
    existing = await conn.execute(_SQLITE_EXISTING, {"sender": event.sender, "webhook_id": event.webhook_id})
    return int(existing.scalar_one()), False
