"""Operations of which one may be open at a time (an initial load, a reconciliation): their check-then-
insert is serialised by a transaction-level advisory lock, so two requests at once cannot both pass."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def serialise(session: AsyncSession, name: str) -> None:
    """Held until the caller's transaction ends. SQLite (one writer at a time) needs none."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
        )
