"""Job: load (or go on loading) one initial load; see app/services/transfer/initial_load.py."""

from __future__ import annotations

from typing import Any

from app.context import resources_from
from app.services.transfer.initial_load import run_load


async def initial_load(ctx: dict[str, Any], load_id: int) -> str | None:
    return await run_load(resources_from(ctx), load_id)
