"""Job: drain one lane of deliveries (claim, send in batches, record outcomes)."""

from __future__ import annotations

from typing import Any

from app.context import resources_from
from app.services.delivery.engine import drain_lane


async def deliver_lane(ctx: dict[str, Any], lane: str) -> int:
    stats = await drain_lane(resources_from(ctx), lane)
    return stats.deliveries
