"""Bodies of initial loads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.models import InitialLoad


class InitialLoadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = Field(
        default=None, description="only records changed since this time (none: everything that exists)"
    )
    connection_id: str | None = Field(
        default=None,
        max_length=64,
        description="read only this connection's CRM calls (CTMS records still go to every active connection)",
    )


class LoadSourceOut(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(examples=["ctms:crm_activity__v"])
    label: str = Field(examples=["ctms/crm_activity__v"])
    total: int | None = Field(description="how many the source counted on the first page", examples=[10000])
    read: int = Field(examples=[4000])
    stored: int = Field(description="new inbox events (the rest were stored already)", examples=[4000])
    invalid: int = Field(default=0, description="rows no event could be made of (logged without content)")
    pages: int = Field(examples=[4])
    done: bool
    error: dict[str, Any] | None = None


class InitialLoadOut(BaseModel):
    id: int
    status: str = Field(examples=["running"], description="queued, running, succeeded or failed")
    trigger: str = Field(examples=["manual"])
    requested_by: str
    connection_id: str | None
    since: datetime | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    sources: list[LoadSourceOut] = Field(description="in load order: parents first")
    read: int = Field(description="records read so far, all sources")
    total: int | None = Field(description="records the sources counted (null until every source has)")
    events: dict[str, int] = Field(
        default_factory=dict, description="the load's inbox events by status", examples=[{"processed": 10000}]
    )
    deliveries: dict[str, int] = Field(
        default_factory=dict,
        description="deliveries of the load's events by status",
        examples=[{"delivered": 9990, "pending": 10}],
    )
    errors: list[Any]

    @classmethod
    def of(cls, load: InitialLoad, outcomes: dict[str, dict[str, int]] | None = None) -> InitialLoadOut:
        ordered = sorted(load.cursors.items(), key=lambda kv: kv[1].get("order", 0))
        sources = [LoadSourceOut(key=k, **v) for k, v in ordered]
        totals = [s.total for s in sources]
        assert load.id is not None
        return cls(
            id=load.id,
            status=load.status,
            trigger=load.trigger,
            requested_by=load.requested_by,
            connection_id=load.connection_id,
            since=load.since,
            created_at=load.created_at,
            started_at=load.started_at,
            heartbeat_at=load.heartbeat_at,
            finished_at=load.finished_at,
            sources=sources,
            read=sum(s.read for s in sources),
            total=sum(t for t in totals if t is not None) if totals and None not in totals else None,
            errors=list(load.errors),
            **(outcomes or {}),
        )
