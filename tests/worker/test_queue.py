"""The queue facade runs the same job in a real `bridge worker` process (arq/Redis) and in-process."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.worker.jobs import JOBS
from app.worker.queue import ArqQueue, InProcessQueue
from tests.conftest import make_settings
from tests.processes import eventually, running_worker, worker_env


async def _store_person_event(engine: AsyncEngine, webhook_id: str) -> int:
    """A stored CTMS person change: the planner marks it handled (no delivery: persons are not sent)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            text(
                "INSERT INTO inbox_events (sender, webhook_id, source, type, object, record_id, payload, status, received_at)"
                " VALUES ('ctms', :wid, 'ctms', 'ctms.record.updated', 'person__sys', 'V0P1', '{}', 'received', now())"
                " RETURNING id"
            ),
            {"wid": webhook_id},
        )
        return int(result.scalar_one())


async def _status(engine: AsyncEngine, event_id: int) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(text("SELECT status FROM inbox_events WHERE id = :id"), {"id": event_id})
        ).scalar_one()


async def test_job_enqueued_through_the_facade_runs_in_a_real_worker(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    event_id = await _store_person_event(clean_db, "msg_facade_arq")
    async with running_worker(
        clean_db, worker_env(pg_url, redis_url, BRIDGE_SWEEPER_INTERVAL_SECONDS="3600")
    ):
        queue = ArqQueue(redis_url)
        try:
            assert await queue.enqueue("process_inbox", job_id="facade-test") is True
            await eventually(lambda: _status(clean_db, event_id), lambda s: s == "ignored")
        finally:
            await queue.close()


async def test_same_job_runs_in_process_without_redis(clean_db: AsyncEngine, pg_url: str) -> None:
    event_id = await _store_person_event(clean_db, "msg_facade_local")
    settings = make_settings(pg_url)
    queue = InProcessQueue(JOBS)
    resources = await Resources.open(settings, queue)
    queue.ctx["resources"] = resources
    try:
        assert await queue.enqueue("process_inbox", job_id="local") is True
        assert await queue.enqueue("process_inbox", job_id="local") is False  # coalesced while waiting
        await queue.drain()
        assert await _status(clean_db, event_id) == "ignored"
    finally:
        await resources.close()
