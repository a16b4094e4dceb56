"""One drainer per lane at a time, across every worker process.

PostgreSQL: a session-level advisory lock, held on its own connection and released by the server if the
worker dies (even by SIGKILL). SQLite (the embedded default, one process): an in-process lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_local_locks: dict[str, asyncio.Lock] = {}


@asynccontextmanager
async def lane_lock(engine: AsyncEngine, lane: str) -> AsyncIterator[bool]:
    """Yields True when this process now drains the lane, False when another one already does."""
    if engine.dialect.name != "postgresql":
        lock = _local_locks.setdefault(lane, asyncio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            yield True
        return
    async with engine.connect() as conn:
        key = {"lane": lane}
        held = bool(
            (
                await conn.execute(text("SELECT pg_try_advisory_lock(hashtextextended(:lane, 0))"), key)
            ).scalar_one()
        )
        await conn.commit()
        try:
            yield held
        finally:
            if held:
                await conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:lane, 0))"), key)
                await conn.commit()
