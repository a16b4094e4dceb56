"""Job (periodic): prune finished work older than BRIDGE_RETENTION_DAYS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.context import resources_from
from app.logging import get_logger
from app.services.retention import prune as prune_old

log = get_logger(__name__)


async def prune(ctx: dict[str, Any]) -> dict[str, int]:
    resources = resources_from(ctx)
    counts = await prune_old(resources.sessionmaker, timedelta(days=resources.settings.retention_days))
    log.info("pruned", **counts)
    return counts
