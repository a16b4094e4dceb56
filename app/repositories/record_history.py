"""SQL for a record's whole path through the bridge, searched by an id on either side.

An id may be a source record (a CTMS activity, a CRM call) or a target record (the CRM interaction
the bridge created): links connect the two, so both ends are searched together.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import Delivery, InboxEvent, RecordLink

MAX_ROWS = 200  # a record with more history than this is shown newest-first, truncated


async def links_touching(session: AsyncSession, ids: Collection[str]) -> list[RecordLink]:
    stmt = (
        select(RecordLink)
        .where(or_(col(RecordLink.source_id).in_(ids), col(RecordLink.target_id).in_(ids)))
        .order_by(col(RecordLink.id))
        .limit(MAX_ROWS)
    )
    return list((await session.execute(stmt)).scalars())


async def events_naming(session: AsyncSession, ids: Collection[str]) -> list[InboxEvent]:
    stmt = (
        select(InboxEvent)
        .where(col(InboxEvent.record_id).in_(ids))
        .order_by(col(InboxEvent.id).desc())
        .limit(MAX_ROWS)
    )
    return list(reversed((await session.execute(stmt)).scalars().all()))


async def deliveries_touching(session: AsyncSession, ids: Collection[str]) -> list[Delivery]:
    stmt = (
        select(Delivery)
        .where(or_(col(Delivery.source_id).in_(ids), col(Delivery.target_id).in_(ids)))
        .order_by(col(Delivery.id).desc())
        .limit(MAX_ROWS)
    )
    return list(reversed((await session.execute(stmt)).scalars().all()))
