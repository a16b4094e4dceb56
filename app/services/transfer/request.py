"""An operator asks for a Transfer run now: the run is recorded (queued) and audited before it is enqueued."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import TransferRun, utcnow
from app.services import audit

JOB = "transfer_run"


async def request_run(session: AsyncSession, actor: str) -> TransferRun:
    run = TransferRun(trigger="manual", status="queued", started_at=utcnow())
    session.add(run)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="transfer_run.start",
        resource_type="transfer_run",
        resource_id=str(run.id),
        after={"trigger": "manual"},
    )
    return run
