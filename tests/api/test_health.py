"""Health endpoints: what a load balancer and an operator rely on."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from app.main import create_app
from tests.conftest import make_settings, running_app


async def test_ready_with_postgres_and_redis(pg_url: str, redis_url: str) -> None:
    app = create_app(make_settings(pg_url, redis_url=redis_url))
    async with running_app(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "queue": "ok"}}


async def test_not_ready_names_the_database_when_its_port_is_closed(redis_url: str) -> None:
    closed = "postgresql+asyncpg://postgres@127.0.0.1:1/bridge"
    app = create_app(make_settings(closed, redis_url=redis_url))
    async with running_app(app) as client:
        assert (await client.get("/healthz")).status_code == 200  # the process itself is fine
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "NOT_READY"
    assert body["checks"]["database"].startswith("unavailable")
    assert body["checks"]["queue"] == "ok"
    assert "database" in body["detail"]


async def test_not_ready_names_the_queue_when_redis_is_unreachable(pg_url: str) -> None:
    app = create_app(make_settings(pg_url, redis_url="redis://127.0.0.1:1/0"))
    async with running_app(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "queue": response.json()["checks"]["queue"]}
    assert response.json()["checks"]["queue"].startswith("unavailable")


async def test_embedded_default_migrates_and_serves(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}", secret_key="")
    async with running_app(create_app(settings)) as client:
        response = await client.get("/readyz")
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "queue": "in-process"}}
    assert (tmp_path / "bridge.secret-key").exists()  # a generated key, kept beside the database


async def test_metrics_are_exposed(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}")
    async with running_app(create_app(settings)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "bridge_webhook_events_total" in response.text


async def test_the_api_refuses_a_database_older_than_the_code(pg_url: str) -> None:
    """Production never runs on a schema it was not built for: run `bridge migrate` first."""
    import asyncpg
    from alembic import command

    from app.migrate import SchemaOutOfDate, alembic_config
    from tests.conftest import PG_ADMIN_URL

    name = f"bridge_old_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = pg_url.rsplit("/", 1)[0] + "/" + name
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0001")
        with pytest.raises(SchemaOutOfDate, match="bridge migrate"):
            async with running_app(create_app(make_settings(url))):
                pass
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
