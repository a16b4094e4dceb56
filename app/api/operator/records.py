"""/api/v1/records/{record_id}/trace: "why is record X not in the CRM?", answered in one call (viewer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.routing import errors, operator_router
from app.api.operator.schemas.trace import TraceOut, trace_out
from app.models import utcnow
from app.services import record_timeline

router = operator_router("records")


@router.get(
    "/api/v1/records/{record_id}/trace",
    summary="Everything the bridge knows about one record, on either side",
    description=(
        "Any id: a CTMS record, a CRM call, or the id a target gave the bridge's write. Answers the links "
        "to its counterparts, every event that named it (an ignored one says why), each delivery with "
        "every attempt (failures before anything was sent included; a replay never clears them), the "
        "last Transfer run and when the next one starts (it catches up a lost webhook), and `findings`: "
        "the same in plain words. An id the bridge never saw answers 200 with empty lists."
    ),
    responses=errors(422),
)
async def trace_record(
    resources: ResourcesDep,
    _caller: CallerDep,
    record_id: Annotated[
        str, Path(min_length=1, max_length=64, description="a record id", examples=["V6A000000001001"])
    ],
) -> TraceOut:
    async with resources.sessionmaker() as session:
        found = await record_timeline.trace(
            session, record_id, transfer_interval=resources.settings.transfer_interval_seconds, now=utcnow()
        )
    return trace_out(found)
