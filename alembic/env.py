"""Alembic environment: async engines, SQLite batch mode, models' metadata as the target."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection as SyncConnection

import app.models  # noqa: F401 - registers every table on the metadata
from app.db import create_engine
from app.models.base import metadata

config = context.config
if not config.get_main_option("sqlalchemy.url"):
    # The `alembic` command with alembic.ini: the bridge's own setting names the database.
    from app.config import Settings

    config.set_main_option("sqlalchemy.url", Settings().database_url.replace("%", "%%"))


def _configure(connection: SyncConnection | None = None, **kwargs: Any) -> None:
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        connection=connection,
        url=None if connection is not None else url,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode copies the table instead
        render_as_batch=bool(url and url.startswith("sqlite")),
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: SyncConnection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by app.migrate"
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
