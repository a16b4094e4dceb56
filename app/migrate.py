"""Schema migrations (Alembic) run from code: ``bridge migrate``, start-up checks, tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine


def _migrations_dir() -> Path:
    """The Alembic scripts: inside the package when installed from a wheel (pyproject force-includes
    them as ``app/_alembic``), else the source tree's top-level ``alembic/`` (checkout, editable)."""
    packaged = Path(__file__).parent / "_alembic"
    return packaged if (packaged / "env.py").is_file() else Path(__file__).parent.parent / "alembic"


MIGRATIONS_DIR = _migrations_dir()


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade_to_head(database_url: str) -> None:
    """Synchronous; safe to call from a thread while an event loop runs elsewhere."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_to_head_async(database_url: str) -> None:
    # env.py starts its own event loop, so it runs in a worker thread.
    await asyncio.to_thread(upgrade_to_head, database_url)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


class SchemaOutOfDate(Exception):
    pass


async def ensure_schema_current(engine: AsyncEngine) -> None:
    """Refuse to run against a database older (or newer) than this code: run `bridge migrate`."""
    current, head = await current_revision(engine), head_revision()
    if current is None:
        raise SchemaOutOfDate("the database has no bridge schema yet: run `bridge migrate` first")
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current}, this code needs {head}: run `bridge migrate`"
        )
