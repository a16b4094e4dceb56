"""Job: one reconciliation run; see app/services/reconciliation/run.py."""

from __future__ import annotations

from typing import Any

from app.context import resources_from
from app.services.reconciliation.run import run_reconciliation


async def reconcile(ctx: dict[str, Any], run_id: int) -> str | None:
    return await run_reconciliation(resources_from(ctx), run_id)
