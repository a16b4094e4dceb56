"""SQL for the audit log of operator actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    after: datetime | None = None
    before: datetime | None = None


async def add(session: AsyncSession, entry: AuditEntry) -> AuditEntry:
    session.add(entry)
    await session.flush()
    return entry


async def page(
    session: AsyncSession, filters: AuditFilter, *, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """Newest first; ``limit`` rows at most, older than ``before_id`` when given."""
    stmt = select(AuditEntry)
    if filters.actor is not None:
        stmt = stmt.where(col(AuditEntry.actor) == filters.actor)
    if filters.action is not None:
        stmt = stmt.where(col(AuditEntry.action) == filters.action)
    if filters.resource_type is not None:
        stmt = stmt.where(col(AuditEntry.resource_type) == filters.resource_type)
    if filters.resource_id is not None:
        stmt = stmt.where(col(AuditEntry.resource_id) == filters.resource_id)
    if filters.after is not None:
        stmt = stmt.where(col(AuditEntry.at) >= filters.after)
    if filters.before is not None:
        stmt = stmt.where(col(AuditEntry.at) < filters.before)
    if before_id is not None:
        stmt = stmt.where(col(AuditEntry.id) < before_id)
    stmt = stmt.order_by(col(AuditEntry.id).desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())
