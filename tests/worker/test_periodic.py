"""Periodic jobs get an arq cron schedule for any interval an operator sets."""

from __future__ import annotations

import pytest

from app.domain.schedule import cron_fields, next_fire


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (1, {"second": set(range(60))}),
        (30, {"second": {0, 30}}),
        (45, {"second": {0}}),  # no step of 45 divides the minute: once a minute
        (300, {"minute": set(range(0, 60, 5)), "second": {0}}),
        (3600, {"hour": set(range(24)), "minute": {0}, "second": {0}}),
        (7200, {"hour": set(range(0, 24, 2)), "minute": {0}, "second": {0}}),
        (5 * 3600, {"hour": set(range(0, 24, 6)), "minute": {0}, "second": {0}}),
        (7 * 86400, {"hour": {0}, "minute": {0}, "second": {0}}),  # at most once a day
    ],
)
def test_intervals_become_cron_schedules(interval: int, expected: dict[str, set[int]]) -> None:
    assert cron_fields(interval) == expected


async def test_concurrent_first_enqueues_share_one_redis_pool(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from app.worker import queue as queue_module

    made: list[object] = []
    real = queue_module.create_pool

    async def counting(*args: object, **kwargs: object) -> object:
        await asyncio.sleep(0.05)  # a slow connect: every concurrent caller arrives before it finishes
        pool = await real(*args, **kwargs)  # type: ignore[arg-type]
        made.append(pool)
        return pool

    monkeypatch.setattr(queue_module, "create_pool", counting)
    queue = queue_module.ArqQueue(redis_url)
    try:
        await asyncio.gather(*(queue.ping() for _ in range(20)))
        assert len(made) == 1  # one pool, not one per concurrent first caller (the others would leak)
    finally:
        await queue.close()


@pytest.mark.parametrize(
    ("interval", "now", "expected"),
    [
        (300, "2026-12-02T10:07:30", "2026-12-02T10:10:00"),
        (300, "2026-12-02T10:10:00", "2026-12-02T10:15:00"),  # a mark that is now is not "next"
        (45, "2026-12-02T10:07:30", "2026-12-02T10:08:00"),  # rounded to once a minute, as cron runs it
        (7200, "2026-12-02T23:30:00", "2026-12-03T00:00:00"),
    ],
)
def test_the_next_run_is_the_cron_schedules_next_mark(interval: int, now: str, expected: str) -> None:
    from datetime import UTC, datetime

    when = datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert next_fire(interval, when) == datetime.fromisoformat(expected).replace(tzinfo=UTC)
