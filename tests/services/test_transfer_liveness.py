"""A Transfer run that is alive is never abandoned, however old; one whose holder is gone is.

"Gone" is told by the run's heartbeat, set here directly in the database (no waiting for real minutes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.models import TransferRun, utcnow
from app.repositories import transfer_runs
from app.services.transfer import run as transfer
from app.worker.queue import InProcessQueue
from tests.conftest import make_settings
from tests.processes import eventually


@pytest.fixture
async def resources(clean_db: AsyncEngine, pg_url: str) -> AsyncIterator[Resources]:
    res = await Resources.open(make_settings(pg_url), InProcessQueue({}))
    yield res
    await res.close()


async def _running_run(resources: Resources, *, age: timedelta, silent_for: timedelta) -> int:
    now = utcnow()
    async with resources.sessionmaker() as session, session.begin():
        run = TransferRun(trigger="schedule", started_at=now - age)
        assert await transfer_runs.begin(session, run)
        run.heartbeat_at = now - silent_for
        await session.flush()
        assert run.id is not None
        return run.id


async def _row(resources: Resources, run_id: int) -> dict:
    async with resources.engine.connect() as conn:
        result = await conn.execute(text("SELECT * FROM transfer_runs WHERE id = :id"), {"id": run_id})
        return dict(result.mappings().one())


async def test_an_old_run_that_still_beats_blocks_a_second_run(resources: Resources) -> None:
    old = await _running_run(resources, age=timedelta(hours=2), silent_for=timedelta(seconds=5))
    assert await transfer.run_transfer(resources) is None  # skipped: one run at a time
    assert (await _row(resources, old))["status"] == "running"


async def test_a_run_whose_heartbeat_stopped_is_abandoned_and_a_new_one_starts(resources: Resources) -> None:
    dead = await _running_run(resources, age=timedelta(minutes=3), silent_for=timedelta(minutes=2))
    now = utcnow()
    async with resources.sessionmaker() as session, session.begin():
        await transfer_runs.abandon_stale(session, now, transfer.SILENCE_LIMIT)
        assert await transfer_runs.begin(session, TransferRun(trigger="schedule", started_at=now))
    row = await _row(resources, dead)
    assert row["status"] == "failed"
    assert row["errors"][0]["code"] == "ABANDONED"


async def test_a_young_silent_run_counts_from_its_start(resources: Resources) -> None:
    """Rows written before heartbeats existed have none: their start time stands in."""
    old = await _running_run(resources, age=timedelta(seconds=5), silent_for=timedelta(seconds=5))
    async with resources.engine.begin() as conn:
        await conn.execute(update(TransferRun).where(TransferRun.id == old).values(heartbeat_at=None))
    async with resources.sessionmaker() as session, session.begin():
        await transfer_runs.abandon_stale(session, utcnow(), transfer.SILENCE_LIMIT)
    assert (await _row(resources, old))["status"] == "running"


async def test_a_running_run_renews_its_heartbeat_and_stops_when_taken_away(
    resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "HEARTBEAT_SECONDS", 0.05)
    run_id = await _running_run(resources, age=timedelta(hours=1), silent_for=timedelta(minutes=59))
    first = (await _row(resources, run_id))["heartbeat_at"]
    never = asyncio.Event()
    work_cancelled = asyncio.Event()

    async def long_work() -> None:
        try:
            await never.wait()
        except asyncio.CancelledError:
            work_cancelled.set()
            raise

    kept = asyncio.create_task(transfer.run_kept_alive(resources, run_id, long_work()))
    await eventually(
        lambda: _row(resources, run_id), lambda r: r["heartbeat_at"] > first + timedelta(minutes=58)
    )
    # the renewed heartbeat protects it from another process's stale check
    async with resources.sessionmaker() as session, session.begin():
        await transfer_runs.abandon_stale(session, utcnow(), transfer.SILENCE_LIMIT)
    assert (await _row(resources, run_id))["status"] == "running"
    # another process closed it (say after a network split): the run stops its work
    async with resources.engine.begin() as conn:
        await conn.execute(update(TransferRun).where(TransferRun.id == run_id).values(status="failed"))
    with pytest.raises(transfer.TransferRunLost):
        async with asyncio.timeout(10):
            await kept
    assert work_cancelled.is_set()
