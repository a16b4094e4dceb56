"""Reconciliation runs and the drifts each found between a source, its target and what the bridge wrote."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from app.models.base import BigId, JsonType, UTCDateTime, utcnow


class Reconciliation(SQLModel, table=True):
    __tablename__ = "reconciliations"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    status: str = Field(default="queued", max_length=16, description="queued, running, succeeded or failed")
    requested_by: str = Field(default="", max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked: int = Field(default=0, description="links compared")
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    calls: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonType, nullable=False), description="API calls per system"
    )
    errors: list[Any] = Field(default_factory=list, sa_column=Column(JsonType, nullable=False))


class Drift(SQLModel, table=True):
    __tablename__ = "reconciliation_drifts"
    __table_args__ = (Index("ix_reconciliation_drifts_run_kind", "reconciliation_id", "kind"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    reconciliation_id: int = Field(sa_type=BigId)
    connection_id: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    source_system: str = Field(max_length=8)
    source_object: str = Field(max_length=128)
    source_id: str = Field(max_length=64)
    target_object: str = Field(max_length=128)
    target_id: str | None = Field(default=None, max_length=64)
    fields: list[Any] = Field(
        default_factory=list,
        sa_column=Column(JsonType, nullable=False),
        description="changed_in_target: [{field, bridge_wrote, target_has}]",
    )
    repaired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
