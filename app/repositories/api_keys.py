"""SQL for operator API keys (only their hashes are stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import ApiKey


async def add(session: AsyncSession, key: ApiKey) -> ApiKey:
    session.add(key)
    await session.flush()
    return key


async def get(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    stmt = select(ApiKey).where(col(ApiKey.key_hash) == key_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def page(
    session: AsyncSession, *, after: tuple[datetime, str] | None, limit: int, include_revoked: bool
) -> list[ApiKey]:
    """Newest first, keyed on (created_at, id) so keys made in the same instant are not skipped."""
    stmt = select(ApiKey)
    if not include_revoked:
        stmt = stmt.where(col(ApiKey.revoked_at).is_(None))
    if after is not None:
        # a plain tuple on the right binds each value with its column's type (UTC handling on SQLite)
        stmt = stmt.where(tuple_(col(ApiKey.created_at), col(ApiKey.id)) < after)
    stmt = stmt.order_by(col(ApiKey.created_at).desc(), col(ApiKey.id).desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def touch(session: AsyncSession, key_id: str, now: datetime, not_since: datetime) -> None:
    """Record use, unless it was already recorded after ``not_since`` (one write a minute, not per call)."""
    await session.execute(
        update(ApiKey)
        .where(col(ApiKey.id) == key_id)
        .where(or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < not_since))
        .values(last_used_at=now)
    )


async def active_admin_count(session: AsyncSession) -> int:
    stmt = (
        select(func.count())
        .select_from(ApiKey)
        .where(col(ApiKey.role) == "admin", col(ApiKey.revoked_at).is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())
