"""With Redis down, events are still accepted; once it is back, the sweeper gets every one processed."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.conftest import TEST_CTMS_SECRET, make_settings, running_app
from tests.factories import ctms_event, signed
from tests.processes import PrivateRedis, eventually, running_worker, worker_env


async def _count(engine: AsyncEngine, status: str) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(text("SELECT count(*) FROM inbox_events WHERE status = :s"), {"s": status})
            ).scalar_one()
        )


async def test_events_accepted_while_redis_is_down_are_processed_once_it_is_back(
    clean_db: AsyncEngine, pg_url: str
) -> None:
    redis = PrivateRedis()  # not started yet: Redis is down while the events arrive
    redis_url = redis.url
    async with running_app(create_app(make_settings(pg_url, redis_url=redis_url))) as client:
        for i in range(25):
            body, headers = signed(
                TEST_CTMS_SECRET, ctms_event(object_="person__sys"), msg_id=f"msg_outage_{i}"
            )
            response = await client.post("/webhooks/ctms", content=body, headers=headers)
            assert response.status_code == 202, response.text
        assert (await client.get("/readyz")).status_code == 503  # and readiness says why
    assert await _count(clean_db, "received") == 25

    with redis:
        async with running_worker(clean_db, worker_env(pg_url, redis_url)):
            # nothing re-sends these events: only the sweeper can find them
            await eventually(lambda: _count(clean_db, "ignored"), lambda n: n == 25, timeout=30)
    assert await _count(clean_db, "received") == 0
