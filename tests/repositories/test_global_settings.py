"""Many first callers of the settings row at once: all get the row, none fails (it used to IntegrityError)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine, create_sessionmaker
from app.migrate import upgrade_to_head_async
from app.models import GlobalSettings
from app.repositories import connections

CALLERS = 20


async def _first_callers(engine: AsyncEngine) -> list[str]:
    sessions = create_sessionmaker(engine)

    async def one() -> str:
        async with sessions() as session, session.begin():
            return (await connections.global_settings(session)).ctms_person_field

    return await asyncio.gather(*(one() for _ in range(CALLERS)))


async def _rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(GlobalSettings))).scalar_one())


async def test_a_fresh_database_has_the_settings_row(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
    await upgrade_to_head_async(url)
    engine = create_engine(url)
    try:
        assert await _rows(engine) == 1  # seeded by the migration
        assert await _first_callers(engine) == ["external_id__v"] * CALLERS
    finally:
        await engine.dispose()


async def test_concurrent_first_callers_without_the_row_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
    await upgrade_to_head_async(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(GlobalSettings))
        assert await _first_callers(engine) == ["external_id__v"] * CALLERS
        assert await _rows(engine) == 1
    finally:
        await engine.dispose()


async def test_concurrent_first_callers_without_the_row_on_postgres(clean_db: AsyncEngine) -> None:
    # clean_db has emptied every table, the settings row included
    assert await _rows(clean_db) == 0
    assert await _first_callers(clean_db) == ["external_id__v"] * CALLERS
    assert await _rows(clean_db) == 1
