"""SQL for CRM connections and the global settings row."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import Connection, GlobalSettings


async def get(session: AsyncSession, connection_id: str) -> Connection | None:
    return await session.get(Connection, connection_id)


async def list_active(session: AsyncSession) -> list[Connection]:
    stmt = select(Connection).where(col(Connection.active).is_(True)).order_by(col(Connection.created_at))
    return list((await session.execute(stmt)).scalars())


async def list_all(session: AsyncSession) -> list[Connection]:
    return list((await session.execute(select(Connection).order_by(col(Connection.created_at)))).scalars())


async def add(session: AsyncSession, connection: Connection) -> Connection:
    session.add(connection)
    await session.flush()
    return connection


async def global_settings(session: AsyncSession) -> GlobalSettings:
    """The settings row, created with defaults the first time it is asked for."""
    row = await session.get(GlobalSettings, 1)
    if row is None:
        row = GlobalSettings(id=1)
        session.add(row)
        await session.flush()
    return row
