"""Plain rows for the delivery hot path, built straight from Core results.

A batch reads hundreds of deliveries, events and links; as ORM objects each would cost an identity-map
entry, instance state and a snapshot at every commit, for rows the batch only reads. The engine writes
them back with set-based statements (app/repositories/deliveries.py), never through the session.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Delivery, InboxEvent, RecordLink


@dataclass(slots=True)
class DeliveryRow:
    """A claimed delivery: the columns of `deliveries`, in table order."""

    id: int
    event_id: int | None
    connection_id: str | None
    direction: str
    operation: str
    lane: str
    source_object: str
    source_id: str
    source_modified_at: datetime | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    retrying_since: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    target_object: str | None
    target_id: str | None
    last_error_code: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryRow:
        """The same row from an ORM object (a dry run plans through the session)."""
        return cls(*(getattr(delivery, name) for name in _DELIVERY_FIELDS))


@dataclass(slots=True)
class EventRow:
    """What a lane handler reads of a delivery's event."""

    type: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, event: InboxEvent) -> EventRow:
        return cls(event.type, event.payload)


@dataclass(slots=True)
class LinkRow:
    """A record link as the handlers compare against it: the columns of `record_links`, in table order."""

    id: int
    connection_id: str
    source_system: str
    source_object: str
    source_id: str
    target_object: str
    target_id: str | None
    last_applied_modified_at: datetime | None
    content_hash: str | None
    last_fields: dict[str, Any]
    deleted: bool
    updated_at: datetime


_DELIVERY_FIELDS = tuple(f.name for f in fields(DeliveryRow))
_LINK_FIELDS = tuple(f.name for f in fields(LinkRow))
_DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table classes
_LINKS = RecordLink.__table__  # type: ignore[attr-defined]
DELIVERY_COLUMNS: tuple[Column[Any], ...] = tuple(_DELIVERIES.c[name] for name in _DELIVERY_FIELDS)
LINK_COLUMNS: tuple[Column[Any], ...] = tuple(_LINKS.c[name] for name in _LINK_FIELDS)


async def core_execute(session: AsyncSession, stmt: Any) -> Any:
    """A Core statement on the session's connection: rows come back as tuples, nothing enters the
    identity map, and the session's transaction is the statement's. (Any: rows or a rowcount.)"""
    return await (await session.connection()).execute(stmt)
