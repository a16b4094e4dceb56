"""Job: one Transfer run (scheduled by cron, or asked for by an operator with a run id)."""

from __future__ import annotations

from typing import Any

from app.context import resources_from
from app.services.transfer.run import run_transfer


async def transfer_run(ctx: dict[str, Any], run_id: int | None = None) -> int | None:
    run = await run_transfer(resources_from(ctx), run_id=run_id, trigger="manual" if run_id else "schedule")
    return run.id if run else None
