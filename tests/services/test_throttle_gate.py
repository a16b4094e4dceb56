"""Issue 11 point 5: the throttle gate, shared through the database by every worker process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clients.throttle import ThrottledError
from app.db import create_sessionmaker
from app.models import Delivery, DeliveryStatus
from app.repositories import throttle_gates as gates_repo
from app.services.delivery.outcomes import Outcome
from app.services.delivery.policy import finish_values
from app.services.throttle import SharedGate

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TARGET = "crm:conn-1"


class Clock:
    """Wall and monotonic time for a gate, moved only by the test (and by the gate's own waits)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.mono = 1000.0
        self.slept: list[float] = []

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def gate(engine: AsyncEngine, clock: Clock, **kw: float) -> SharedGate:
    """One worker process's gate: its own cache, the shared database."""
    return SharedGate(
        create_sessionmaker(engine), clock=clock.wall, sleep=clock.sleep, monotonic=clock.monotonic, **kw
    )


def paused_delivery(attempts: int, retrying_since: datetime | None) -> dict[str, object]:
    d = Delivery(
        id=1, direction="ctms_to_crm", operation="upsert_interaction", lane="c:interaction:0",
        source_object="crm_activity__v", source_id="V1", attempts=attempts, retrying_since=retrying_since,
    )  # fmt: skip
    exc = ThrottledError(TARGET, NOW + timedelta(seconds=40), "REQUEST_LIMIT_EXCEEDED")
    return finish_values(d, Outcome.from_error(exc), NOW, horizon=72 * 3600, base=1.0, cap=900.0)


def test_a_delivery_held_by_the_gate_counts_no_attempt_and_does_not_start_the_horizon() -> None:
    values = paused_delivery(attempts=1, retrying_since=None)  # the claim counted 1; no call was made
    assert values["status"] == DeliveryStatus.PENDING
    assert values["attempts"] == 0
    assert values["next_attempt_at"] == NOW + timedelta(seconds=40)  # exactly when the pause ends
    assert values["retrying_since"] is None  # the horizon's clock has not started
    assert values["last_error_code"] == "THROTTLED"


def test_a_pause_never_dead_letters_even_past_the_horizon() -> None:
    since = NOW - timedelta(hours=80)  # an earlier run of failures, already past 72 h
    values = paused_delivery(attempts=9, retrying_since=since)
    assert (values["status"], values["attempts"], values["retrying_since"]) == (
        DeliveryStatus.PENDING, 8, since,
    )  # fmt: skip


async def test_raising_a_gate_keeps_the_later_pause_in_one_statement(session: AsyncSession) -> None:
    later, sooner = NOW + timedelta(seconds=30), NOW + timedelta(seconds=3)
    assert await gates_repo.raise_gate(session, TARGET, later, "REQUEST_LIMIT_EXCEEDED") == later
    assert await gates_repo.raise_gate(session, TARGET, sooner, "HTTP_429") == later
    assert await gates_repo.paused_until(session, TARGET) == (later, "REQUEST_LIMIT_EXCEEDED")
    even_later = later + timedelta(seconds=1)
    assert await gates_repo.raise_gate(session, TARGET, even_later, "HTTP_429") == even_later
    assert await gates_repo.paused_until(session, TARGET) == (even_later, "HTTP_429")


async def test_workers_raising_one_gate_at_once_agree_on_the_latest(clean_db: AsyncEngine) -> None:
    clock = Clock()
    workers = [gate(clean_db, clock) for _ in range(6)]
    await asyncio.gather(*(w.signal(TARGET, float(n), "HTTP_429") for n, w in enumerate(workers)))
    async with create_sessionmaker(clean_db)() as session:
        row = await gates_repo.paused_until(session, TARGET)
    assert row is not None
    assert row[0] == clock.now + timedelta(seconds=5)


async def test_a_pause_one_worker_hears_of_holds_every_other_worker(clean_db: AsyncEngine) -> None:
    clock = Clock()
    hearing, other = gate(clean_db, clock), gate(clean_db, clock)
    await other.before_call(TARGET)  # nothing paused: no wait
    assert clock.slept == []

    await hearing.signal(TARGET, 3.0, "HTTP_429")  # Retry-After: 3
    clock.advance(other.recheck_seconds)  # the other worker looks again within this bound
    await other.before_call(TARGET)  # waits out the rest of the pause before its call
    assert clock.slept == [3.0 - other.recheck_seconds]
    await other.before_call(TARGET)  # the pause is over
    assert len(clock.slept) == 1


async def test_a_long_pause_gives_the_work_back_instead_of_waiting(clean_db: AsyncEngine) -> None:
    clock = Clock()
    hearing, other = gate(clean_db, clock, max_wait=5.0), gate(clean_db, clock, max_wait=5.0)
    await hearing.signal(TARGET, None, "REQUEST_LIMIT_EXCEEDED")  # no Retry-After: the default pause
    with pytest.raises(ThrottledError) as held:  # a 30 s pause is not waited out in place
        await other.before_call(TARGET)
    assert held.value.until == clock.now + timedelta(seconds=other.default_pause)
    assert clock.slept == []
    await other.before_call("crm:another-org")  # other targets are not held
