"""Bodies of /api/v1/events and /api/v1/deliveries: what happened to a record, and fixing it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.models import Delivery, DeliveryAttempt
from app.repositories.deliveries_query import DeliveryFilter
from app.repositories.events_query import EventFilter

BIGINT_MAX = 2**63 - 1  # ids are PostgreSQL BIGINT: a larger number is a 422, never a database error

DeliveryStatusName = Literal[
    "pending",
    "in_flight",
    "awaiting_transfer",
    "unmatched",
    "delivered",
    "unchanged",
    "stale",
    "dead",
    "discarded",
    "superseded",
]
ReplayableStatus = Literal["dead", "discarded", "unmatched", "stale"]
OperationName = Literal[
    "upsert_interaction",
    "delete_interaction",
    "upsert_medical_activity",
    "inactivate_medical_activity",
    "upsert_study",
    "upsert_site",
    "delete_study",
    "delete_site",
    "automate_activity",
]
EventStatusName = Literal["received", "processed", "ignored", "failed"]


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    started_at: datetime
    duration_ms: int
    target: str = Field(
        examples=["salesforce eu.my.salesforce.com"],
        description="the system called, or `bridge (nothing sent)` for a failure before any call",
    )
    operation: str
    outcome: str = Field(description="success, transient, permanent, unmatched or skipped")
    http_status: int | None
    error_code: str | None
    response_excerpt: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(examples=[8812])
    event_id: int | None
    connection_id: str | None
    direction: str = Field(examples=["ctms_to_crm"])
    operation: str = Field(examples=["upsert_interaction"])
    lane: str
    source_object: str = Field(examples=["crm_activity__v"])
    source_id: str = Field(examples=["V6A000000001001"])
    source_modified_at: datetime | None
    status: str = Field(examples=["dead"])
    attempts: int
    next_attempt_at: datetime
    target_object: str | None
    target_id: str | None
    last_error_code: str | None = Field(examples=["UNKNOWN_CHANNEL"])
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any]
    attempt_history: list[AttemptOut]


def delivery_detail(delivery: Delivery, attempts: list[DeliveryAttempt]) -> DeliveryDetail:
    return DeliveryDetail.model_validate(
        {**delivery.model_dump(), "attempt_history": [AttemptOut.model_validate(a) for a in attempts]}
    )


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(examples=[1042])
    sender: str
    webhook_id: str
    source: str = Field(examples=["ctms"])
    connection_id: str | None
    type: str = Field(examples=["ctms.record.updated"])
    object: str | None
    record_id: str | None
    source_modified_at: datetime | None
    status: str = Field(examples=["processed"])
    error_code: str | None
    error: str | None
    received_at: datetime
    processed_at: datetime | None


class EventDetail(EventOut):
    payload: dict[str, Any]
    deliveries: list[DeliveryDetail]


class EventQuery(BaseModel):
    status: list[EventStatusName] = Field(default_factory=list, description="repeat for several")
    source: Literal["ctms", "crm"] | None = None
    type: str | None = Field(None, examples=["crm.call.sent_to_vault"])
    connection_id: str | None = None
    object: str | None = Field(None, examples=["crm_activity__v"])
    record_id: str | None = None
    received_after: AwareDatetime | None = Field(None, description="inclusive, with a UTC offset")
    received_before: AwareDatetime | None = Field(None, description="exclusive")

    def to_filter(self) -> EventFilter:
        return EventFilter(
            statuses=tuple(self.status),
            source=self.source,
            type=self.type,
            connection_id=self.connection_id,
            object=self.object,
            record_id=self.record_id,
            received_after=self.received_after,
            received_before=self.received_before,
        )


class DeliveryQuery(BaseModel):
    status: list[DeliveryStatusName] = Field(default_factory=list, description="repeat for several")
    connection_id: str | None = None
    operation: OperationName | None = None
    direction: Literal["ctms_to_crm", "crm_to_ctms"] | None = None
    object: str | None = Field(None, description="the source object", examples=["crm_activity__v"])
    source_id: str | None = None
    event_id: int | None = Field(None, ge=1, le=BIGINT_MAX)
    created_after: AwareDatetime | None = Field(None, description="inclusive, with a UTC offset")
    created_before: AwareDatetime | None = Field(None, description="exclusive")

    def to_filter(self) -> DeliveryFilter:
        return DeliveryFilter(
            statuses=tuple(self.status),
            connection_id=self.connection_id,
            operation=self.operation,
            direction=self.direction,
            source_object=self.object,
            source_id=self.source_id,
            event_id=self.event_id,
            created_after=self.created_after,
            created_before=self.created_before,
        )


class BulkReplayIn(DeliveryQuery):
    """The list filters, plus how to run. ``status`` may only name replayable statuses (default: dead)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": ["dead"], "connection_id": "conn_3f9a1c2b7d4e", "dry_run": True},
                {
                    "status": ["dead"],
                    "connection_id": "conn_3f9a1c2b7d4e",
                    "dry_run": False,
                    "up_to_id": 9120,
                    "as_of": "2026-11-20T10:20:00Z",
                },
            ]
        },
    )

    status: list[DeliveryStatusName] = Field(
        default_factory=list, description="replayable statuses only; default dead"
    )
    dry_run: bool = Field(True, description="count only (the default, so a bare call changes nothing)")
    up_to_id: int | None = Field(
        None, ge=1, le=BIGINT_MAX, description="from a dry run: replay nothing newer than what it counted"
    )
    as_of: AwareDatetime | None = Field(
        None, description="from a dry run: skip deliveries that changed since"
    )
    limit: int = Field(
        500, ge=1, le=500, description="replay at most this many in this call; call again for the rest"
    )


class BulkReplayOut(BaseModel):
    dry_run: bool
    matched: int = Field(description="deliveries matching the filter (and the pin) before this call")
    replayed: int
    remaining: int = Field(description="matching deliveries left to replay: call again while above 0")
    up_to_id: int | None = Field(description="pass back with as_of to replay exactly the set counted")
    as_of: datetime


class DiscardIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "study closed; not wanted in the CRM"}]}
    )

    reason: str = Field(min_length=1, max_length=500, description="kept in the audit log")
