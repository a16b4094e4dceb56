"""The inbox: every accepted webhook event, stored before we answer 202."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import BigId, JsonType, UTCDateTime, utcnow


class EventStatus(StrEnum):
    RECEIVED = "received"  # stored, not yet turned into deliveries
    PROCESSED = "processed"  # deliveries planned (or nothing to do)
    IGNORED = "ignored"  # an echo of our own write, or a type we do not act on
    FAILED = "failed"  # could not be planned; error_code says why


class InboxEvent(SQLModel, table=True):
    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("sender", "webhook_id"),
        Index("ix_inbox_events_status_received_at", "status", "received_at"),
        Index("ix_inbox_events_sender_record", "sender", "object", "record_id"),  # catch-up asks "seen it?"
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    sender: str = Field(max_length=64, description="'ctms' or the CRM connection id")
    webhook_id: str = Field(max_length=255)
    source: str = Field(max_length=8, description="ctms or crm")
    connection_id: str | None = Field(default=None, max_length=64, index=True)
    type: str = Field(max_length=64)
    object: str | None = Field(default=None, max_length=128)
    record_id: str | None = Field(default=None, max_length=64)
    source_modified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(sa_column=Column(JsonType, nullable=False))
    status: str = Field(default=EventStatus.RECEIVED, max_length=16)
    error_code: str | None = Field(default=None, max_length=64)
    error: str | None = None
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
