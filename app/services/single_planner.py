"""One planner at a time where the database cannot arbitrate between planners.

On PostgreSQL concurrent planners claim disjoint batches (``FOR UPDATE SKIP LOCKED``). SQLite has no row
locks, so two planners of the embedded mode would read the same received events and plan them twice.
The embedded mode is one process, so an asyncio lock per database file makes planning there sequential.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncEngine

# Per event loop (a lock belongs to one loop), per database.
_LOCKS: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = WeakKeyDictionary()


@asynccontextmanager
async def planning_turn(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold this around one planning transaction (claim to commit)."""
    if engine.dialect.name != "sqlite":
        yield
        return
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = locks.setdefault(engine.url.render_as_string(hide_password=True), asyncio.Lock())
    async with lock:
        yield
