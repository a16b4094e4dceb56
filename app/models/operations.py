"""Transfer runs, catch-up watermarks, operator API keys, the audit log and worker heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, text
from sqlmodel import Field, SQLModel

from app.models.base import BigId, JsonType, UTCDateTime, utcnow


class TransferRun(SQLModel, table=True):
    __tablename__ = "transfer_runs"
    __table_args__ = (
        # at most one running Transfer job across all workers
        Index(
            "uq_transfer_runs_one_running",
            "status",
            unique=True,
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    trigger: str = Field(max_length=16, description="schedule or manual")
    status: str = Field(default="running", max_length=16)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="renewed while the run's holder is alive"
    )
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    errors: list[Any] = Field(default_factory=list, sa_column=Column(JsonType, nullable=False))


class Watermark(SQLModel, table=True):
    """Up to when catch-up has seen a system's changes, per (system, connection, object)."""

    __tablename__ = "watermarks"

    key: str = Field(primary_key=True, max_length=255)
    value: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ThrottleGate(SQLModel, table=True):
    """A target org that asked us to slow down: no worker calls it before `paused_until`."""

    __tablename__ = "throttle_gates"

    target: str = Field(primary_key=True, max_length=128)
    paused_until: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=64)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    role: str = Field(max_length=16, description="viewer, operator or admin")
    prefix: str = Field(max_length=16, description="shown in lists to recognise a key")
    key_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=255)
    action: str = Field(max_length=64)
    resource_type: str = Field(max_length=64)
    resource_id: str | None = Field(default=None, max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonType, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonType, nullable=True))


class WorkerHeartbeat(SQLModel, table=True):
    """Workers report in, so operators (and tests) can see which worker processes are alive."""

    __tablename__ = "worker_heartbeats"

    worker_id: str = Field(primary_key=True, max_length=128)
    hostname: str = Field(max_length=255)
    pid: int
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
