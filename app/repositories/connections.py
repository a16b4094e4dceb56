"""SQL for CRM connections and the global settings row."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import AccountMatch, Connection, GlobalSettings


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
    """The settings row. A migration seeds it; should it be missing (a truncated table), it is created
    with defaults by an insert that concurrent first callers cannot collide on: whoever comes second waits
    for the first one's row and reads it, instead of failing on the primary key."""
    row = await session.get(GlobalSettings, 1)
    if row is not None:
        return row
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    defaults = GlobalSettings(id=1).model_dump()
    await session.execute(insert(GlobalSettings).values(**defaults).on_conflict_do_nothing())
    row = await session.get(GlobalSettings, 1)
    assert row is not None, "inserted above, or by a concurrent caller whose commit we waited for"
    return row


async def by_name(session: AsyncSession, name: str) -> Connection | None:
    stmt = select(Connection).where(col(Connection.name) == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def page(session: AsyncSession, *, after_name: str | None, limit: int) -> list[Connection]:
    """By name (names are unique, so the name is also the page key)."""
    stmt = select(Connection)
    if after_name is not None:
        stmt = stmt.where(col(Connection.name) > after_name)
    return list((await session.execute(stmt.order_by(col(Connection.name)).limit(limit))).scalars())


async def remove(session: AsyncSession, connection: Connection) -> None:
    await session.delete(connection)
    await session.flush()


async def forget_account_matches(session: AsyncSession, connection_ids: Sequence[str]) -> int:
    """Drop cached person -> account matches (the identifier changed); returns how many were dropped."""
    if not connection_ids:
        return 0
    result = await session.execute(
        delete(AccountMatch).where(col(AccountMatch.connection_id).in_(list(connection_ids)))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def ids_using_global_account_match(session: AsyncSession) -> list[str]:
    """Connections without their own identifier pair: the global pair is theirs."""
    # Filtered here: a JSON column may hold SQL NULL or JSON null for "not set", depending on the writer.
    rows = await session.execute(select(Connection.id, Connection.account_match))
    return [str(row.id) for row in rows if not row.account_match]
