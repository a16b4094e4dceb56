"""The database engine and sessions: made once per process, shared by requests and jobs."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

POOL_SIZE = 10
POOL_OVERFLOW = 10


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("hide_parameters", True)  # SQL errors never carry record content into logs
    # orjson for JSON columns: event payloads are decoded on every claim, ~3x faster than the json module
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the API read while a job writes; the busy timeout waits instead of failing.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    kwargs.setdefault("pool_pre_ping", True)
    # A short connect timeout makes "database down" a fast 503, not a hung request. Custom plans: asyncpg
    # prepares every statement, and after five runs PostgreSQL may switch a statement to a generic plan
    # that ignores its values; the claim's (a lane, a time, the records in flight) then ran 4x slower.
    kwargs.setdefault(
        "connect_args",
        {"timeout": 5, "command_timeout": 30, "server_settings": {"plan_cache_mode": "force_custom_plan"}},
    )
    return create_async_engine(url, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"
