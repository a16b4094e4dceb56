"""Body of /api/v1/records/{record_id}/trace: everything the bridge knows about one record."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.api.operator.schemas.deliveries import AttemptOut, DeliveryOut, EventOut
from app.api.operator.schemas.operations import LinkOut, TransferRunOut
from app.services.record_timeline import DeliveryPath, Trace


class DeliveryTrace(DeliveryOut):
    attempt_history: list[AttemptOut] = Field(description="every attempt, failures before sending included")


class EventTrace(EventOut):
    deliveries: list[DeliveryTrace]


class TransferScheduleOut(BaseModel):
    last_run: TransferRunOut | None
    next_run_at: datetime = Field(description="when the periodic Transfer run next starts")


class TraceOut(BaseModel):
    record_id: str = Field(examples=["V6A000000001001"])
    ids: list[str] = Field(description="the record and its counterparts in other systems, from the links")
    findings: list[str] = Field(
        description="what the history says, in plain words: ignored events and why, where each delivery stands",
        examples=[
            [
                "Delivery 8812 (upsert_interaction to conn_eu) is a dead letter (UNKNOWN_CHANNEL): fix "
                "the cause, then replay it."
            ]
        ],
    )
    links: list[LinkOut]
    events: list[EventTrace] = Field(description="oldest first, each with the deliveries it planned")
    other_deliveries: list[DeliveryTrace] = Field(
        description="deliveries planned by the Transfer job, or whose event was pruned"
    )
    transfer: TransferScheduleOut


def _delivery(path: DeliveryPath) -> DeliveryTrace:
    return DeliveryTrace.model_validate(
        {
            **path.delivery.model_dump(),
            "attempt_history": [AttemptOut.model_validate(a) for a in path.attempts],
        }
    )


def trace_out(found: Trace) -> TraceOut:
    t = found.timeline
    last = found.transfer.last_run
    return TraceOut(
        record_id=t.searched,
        ids=t.ids,
        findings=found.findings,
        links=[LinkOut.model_validate(link) for link in t.links],
        events=[
            EventTrace.model_validate(
                {**e.event.model_dump(), "deliveries": [_delivery(d) for d in e.deliveries]}
            )
            for e in t.events
        ],
        other_deliveries=[_delivery(d) for d in t.other_deliveries],
        transfer=TransferScheduleOut(
            last_run=TransferRunOut.model_validate(last) if last else None,
            next_run_at=found.transfer.next_run_at,
        ),
    )
