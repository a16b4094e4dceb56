"""Deliveries: one unit of work per (event, target connection, record), and every attempt at it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, text
from sqlmodel import Field, SQLModel

from app.models.base import BigId, JsonType, UTCDateTime, utcnow


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    IN_FLIGHT = "in_flight"  # claimed by a worker until lease_expires_at
    AWAITING_TRANSFER = "awaiting_transfer"  # released by the next Transfer job run (CRM deletions, F4)
    UNMATCHED = "unmatched"  # waits for a person/account match; retried by the Transfer job
    DELIVERED = "delivered"
    UNCHANGED = "unchanged"  # the target already holds this content: nothing sent
    STALE = "stale"  # older than what the target already has
    DEAD = "dead"  # permanent error or retries exhausted; an operator may replay
    DISCARDED = "discarded"  # an operator gave up on it
    SUPERSEDED = "superseded"  # a dead letter whose record a later delivery has since delivered


OPEN_STATUSES = (
    DeliveryStatus.PENDING,
    DeliveryStatus.IN_FLIGHT,
    DeliveryStatus.AWAITING_TRANSFER,
    DeliveryStatus.UNMATCHED,
)


class Operation(StrEnum):
    UPSERT_INTERACTION = "upsert_interaction"  # F1
    DELETE_INTERACTION = "delete_interaction"  # F2
    UPSERT_MEDICAL_ACTIVITY = "upsert_medical_activity"  # F3
    INACTIVATE_MEDICAL_ACTIVITY = "inactivate_medical_activity"  # F4
    UPSERT_STUDY = "upsert_study"  # F5
    UPSERT_SITE = "upsert_site"  # F6
    DELETE_STUDY = "delete_study"  # F7
    DELETE_SITE = "delete_site"  # F7
    AUTOMATE_ACTIVITY = "automate_activity"  # F8


class Delivery(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (
        # the claim query: due work in one lane, oldest first
        Index("ix_deliveries_lane_due", "status", "lane", "next_attempt_at"),
        Index("ix_deliveries_record", "lane", "source_object", "source_id"),
        # the claim's "has this record a change out?": only the few rows in flight, not a record's history
        Index(
            "ix_deliveries_in_flight",
            "lane",
            "source_object",
            "source_id",
            postgresql_where=text("status = 'in_flight'"),
            sqlite_where=text("status = 'in_flight'"),
        ),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    event_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("inbox_events.id", ondelete="SET NULL"), index=True)
    )
    connection_id: str | None = Field(default=None, max_length=64, index=True)
    direction: str = Field(max_length=16, description="ctms_to_crm or crm_to_ctms")
    operation: str = Field(max_length=48, description="e.g. upsert_interaction, delete_study")
    lane: str = Field(max_length=160, description="deliveries in one lane are batched together")
    source_object: str = Field(max_length=128)
    source_id: str = Field(max_length=64)
    source_modified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    status: str = Field(default=DeliveryStatus.PENDING, max_length=32)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retrying_since: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="first transient failure of this run of retries"
    )
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    target_object: str | None = Field(default=None, max_length=128)
    target_id: str | None = Field(default=None, max_length=64)
    last_error_code: str | None = Field(default=None, max_length=64)
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    delivery_id: int = Field(
        sa_column=Column(BigId, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    number: int
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    duration_ms: int = 0
    target: str = Field(max_length=255, description="system and host called")
    operation: str = Field(max_length=64)
    outcome: str = Field(max_length=16, description="success, transient, permanent, auth")
    http_status: int | None = None
    error_code: str | None = Field(default=None, max_length=64)
    response_excerpt: str | None = Field(default=None, description="truncated, never secrets")
