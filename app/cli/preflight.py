"""Checks `bridge serve` and `bridge worker` make before they start: a configuration mistake is one line
on stderr naming the fix and a non-zero exit, never a traceback from deep inside uvicorn or arq."""

from __future__ import annotations

import asyncio
from typing import NoReturn
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError

from app.config import ConfigError, Settings

EXIT_CONFIG = 2  # like a usage error: the command cannot run as configured


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_CONFIG)


def load_settings(*, for_service: bool = True) -> Settings:
    """The settings, checked; a bad value names its variable. Commands that only touch the database
    (`migrate`, `prune`, …) pass for_service=False: they need no secret key."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "BRIDGE_" + "_".join(str(part) for part in first["loc"]).upper()
        fail(f"{name}: {first['msg']}")
    if for_service:
        try:
            settings.check()
        except ConfigError as exc:
            fail(str(exc))
    return settings


def where(url: str) -> str:
    """host:port of a URL, without its credentials (messages may end up in logs)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


async def _schema_problem(database_url: str) -> str | None:
    from app.db import create_engine
    from app.migrate import SchemaOutOfDate, ensure_schema_current

    engine = create_engine(database_url)
    try:
        async with asyncio.timeout(10):
            await ensure_schema_current(engine)
    except SchemaOutOfDate as exc:
        return str(exc)
    except Exception:
        return None  # unreachable now: the processes start anyway and wait (see /readyz)
    finally:
        await engine.dispose()
    return None


def unreachable(exc: BaseException) -> bool:
    """A database that cannot be reached (down, wrong host or port, refused), as opposed to a bug."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    seen: BaseException | None = exc
    while seen is not None:  # the driver's error may sit under SQLAlchemy's or Alembic's
        if isinstance(seen, OSError | TimeoutError | OperationalError | InterfaceError):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if type(seen).__module__.startswith("asyncpg") and "Connection" in type(seen).__name__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def database_down(settings: Settings, exc: BaseException) -> NoReturn:
    fail(
        f"the database at {where(settings.database_url)} cannot be reached ({type(exc).__name__}): "
        "start it or fix BRIDGE_DATABASE_URL"
    )


def check_schema(settings: Settings) -> None:
    """An external database must be migrated first (the embedded one is migrated at start)."""
    if settings.embedded:
        return
    problem = asyncio.run(_schema_problem(settings.database_url))
    if problem:
        fail(problem)


async def _redis_problem(url: str) -> str | None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        await client.ping()
    except Exception as exc:
        return type(exc).__name__
    finally:
        await client.aclose()
    return None


def check_redis(settings: Settings, *, wait: bool) -> None:
    """A worker started before Redis waits for it (one line says so), as a running worker waits out an
    outage; with --no-wait it refuses to start instead."""
    if not settings.redis_url:
        fail("bridge worker needs BRIDGE_REDIS_URL; without it, jobs run inside `bridge serve`")
    problem = asyncio.run(_redis_problem(settings.redis_url))
    if not problem:
        return
    if not wait:
        fail(
            f"Redis at {where(settings.redis_url)} cannot be reached ({problem}): start it or fix "
            "BRIDGE_REDIS_URL (without --no-wait the worker waits for it)"
        )
    typer.echo(
        f"warning: Redis at {where(settings.redis_url)} cannot be reached ({problem}): waiting for it "
        "(start it or fix BRIDGE_REDIS_URL; --no-wait refuses to start instead)",
        err=True,
    )
