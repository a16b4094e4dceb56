"""Shared fixtures: real PostgreSQL (a fresh database per run, real migrations) and real Redis.

A missing service is a failure, never a skip: CI must not pass by testing nothing.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import create_engine
from app.migrate import upgrade_to_head

PG_ADMIN_URL = os.environ.get("BRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("BRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
SESSION_LOCK = "bridge-tests:session"  # which test session owns this Redis database
TEST_CTMS_SECRET = "whsec_" + "dGVzdC1jdG1zLXdlYmhvb2stc2VjcmV0LTAx"  # base64("test-ctms-webhook-secret-01")
TEST_SECRET_KEY = "test-secret-key-for-encryption-0123456789"


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A new, migrated database for this test run; dropped afterwards."""
    name = f"bridge_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        try:
            conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(
                f"PostgreSQL is required at {PG_ADMIN_URL} and is not reachable: {exc}", pytrace=False
            )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = _sqlalchemy_url(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    upgrade_to_head(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test: no test sees another's rows."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        session = AsyncSession(bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            await session.close()
            await trans.rollback()


TABLES = (
    "delivery_attempts, deliveries, inbox_events, record_links, account_matches, connections, throttle_gates, "
    "global_settings, transfer_runs, initial_loads, reconciliations, reconciliation_drifts, watermarks, api_keys, "
    "audit_log, worker_heartbeats"
)


async def _truncate(engine: AsyncEngine) -> None:
    """TRUNCATE takes every table at once; a server still shutting down (a previous test's sweeper, say)
    may hold one of them and wait for another, which PostgreSQL answers with a deadlock: try again."""
    for attempt in range(5):
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
            return
        except DBAPIError as exc:
            if "deadlock" not in str(exc.orig) or attempt == 4:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture
async def clean_db(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """For tests whose work is committed by other processes (workers): empty tables before and after."""
    await _truncate(engine)
    yield engine
    await _truncate(engine)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """A Redis database of our own for this test session: concurrent runs (CI, a developer, helpers) must
    not take each other's jobs. Claimed with SET NX, released at the end."""

    async def claim() -> str:
        owner = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        for db in range(1, 16):
            client = aioredis.from_url(f"{REDIS_SERVER}/{db}")
            try:
                if await client.set(SESSION_LOCK, owner, nx=True, ex=3 * 3600):
                    await client.flushdb()
                    await client.set(SESSION_LOCK, owner, ex=3 * 3600)
                    return f"{REDIS_SERVER}/{db}"
            except Exception as exc:
                pytest.fail(f"Redis is required at {REDIS_SERVER} and is not reachable: {exc}", pytrace=False)
            finally:
                await client.aclose()
        pytest.fail("every Redis database 1-15 is claimed by another test session", pytrace=False)

    async def release(url: str) -> None:
        client = aioredis.from_url(url)
        await client.flushdb()  # also drops the claim
        await client.aclose()

    url = asyncio.run(claim())
    yield url
    asyncio.run(release(url))


@pytest.fixture
async def redis_url(redis_server_url: str) -> AsyncIterator[str]:
    """This session's Redis database, emptied before and after each test (the claim is kept)."""
    client = aioredis.from_url(redis_server_url)
    owner = await client.get(SESSION_LOCK)
    await client.flushdb()
    await client.set(SESSION_LOCK, owner or b"", ex=3 * 3600)
    yield redis_server_url
    await client.flushdb()
    await client.set(SESSION_LOCK, owner or b"", ex=3 * 3600)
    await client.aclose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": None,
        "ctms_webhook_secrets": TEST_CTMS_SECRET,
        "secret_key": TEST_SECRET_KEY,
        "log_json": True,
        "sweeper_interval_seconds": 1.0,
        "sweeper_grace_seconds": 0.5,
        # in-process periodic jobs fire on the cron's wall-clock marks: no Transfer run at a 5-minute mark
        # in the middle of a test (tests run it themselves)
        "transfer_interval_seconds": 86400,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run, and a client that calls it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge.test") as client:
            yield client
