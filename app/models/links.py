"""Where each source record went, and the person ↔ account matches we learned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import BigId, JsonType, UTCDateTime, utcnow


class RecordLink(SQLModel, table=True):
    """One source record in one target system: the id it has there and what we last wrote."""

    __tablename__ = "record_links"
    __table_args__ = (UniqueConstraint("connection_id", "source_system", "source_object", "source_id"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    connection_id: str = Field(max_length=64, description="the CRM connection on either side")
    source_system: str = Field(max_length=8, description="ctms or crm")
    source_object: str = Field(max_length=128)
    source_id: str = Field(max_length=64)
    target_object: str = Field(max_length=128)
    target_id: str | None = Field(default=None, max_length=64)
    last_applied_modified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content_hash: str | None = Field(default=None, max_length=64)
    last_fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    deleted: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AccountMatch(SQLModel, table=True):
    """Cache: a CTMS person's CRM account in one connection (invalidated when the person changes)."""

    __tablename__ = "account_matches"
    __table_args__ = (UniqueConstraint("connection_id", "person_id"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    connection_id: str = Field(max_length=64, index=True)
    person_id: str = Field(max_length=64)
    identifier_value: str = Field(max_length=255)
    account_id: str = Field(max_length=64)
    matched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
