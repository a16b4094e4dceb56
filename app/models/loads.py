"""Initial loads: everything that already exists in a source, read in pages and fed through the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from app.models.base import BigId, JsonType, UTCDateTime, utcnow


class InitialLoad(SQLModel, table=True):
    __tablename__ = "initial_loads"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    status: str = Field(default="queued", max_length=16, description="queued, running, succeeded or failed")
    trigger: str = Field(default="manual", max_length=16, description="manual or activation")
    requested_by: str = Field(default="", max_length=128)
    connection_id: str | None = Field(
        default=None, max_length=64, description="only this connection's CRM calls (none: every active one)"
    )
    since: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="only records changed since (none: all)"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="renewed while a worker is loading"
    )
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    holder: str | None = Field(
        default=None, max_length=64, description="the run now loading (resumes take over)"
    )
    # per source, in load order: {"label", "after", "offset", "read", "stored", "pages", "done"}
    cursors: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    first_event_id: int | None = Field(default=None, sa_type=BigId)
    last_event_id: int | None = Field(default=None, sa_type=BigId)
    errors: list[Any] = Field(default_factory=list, sa_column=Column(JsonType, nullable=False))
