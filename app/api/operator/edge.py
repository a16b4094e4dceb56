"""What every operator router needs from the request edge: a transaction it owns, and the secret box."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from app.context import Resources
from app.crypto import SecretBox
from app.logging import get_logger
from app.services import wakeups

log = get_logger(__name__)


@asynccontextmanager
async def transaction(resources: Resources) -> AsyncIterator[AsyncSession]:
    """Commits when the block ends normally; services inside only flush."""
    async with resources.sessionmaker() as session, session.begin():
        yield session


def secret_box(resources: Resources) -> SecretBox:
    return SecretBox(resources.settings.encryption_key)


async def wake(resources: Resources, lanes: list[str]) -> None:
    """After the commit. A lost wake-up costs a sweep interval (the sweeper finds due work), never work."""
    if not lanes:
        return
    try:
        await wakeups.wake_lanes(resources.queue, lanes)
    except Exception as exc:  # Redis down, or no deliverer registered in this process yet
        log.warning("lane_wake_failed", lanes=len(lanes), error=type(exc).__name__)
