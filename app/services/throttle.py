"""The throttle gate shared by every worker: a pause one process hears of is kept in `throttle_gates`, and
every process reads it before calling that target.

Cheap when no gate is set: a process reads a target's row (one primary-key read) at most once per
`recheck_seconds`, and knows its own pauses at once; so a pause set by another process is honoured within
`recheck_seconds`. When the database cannot be reached the gate falls back to what this process knows:
throttling must never be the reason a delivery fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import metrics
from app.clients.throttle import DEFAULT_PAUSE_SECONDS, MAX_WAIT_SECONDS, LocalGate, Sleep, crm_target
from app.logging import get_logger
from app.models import utcnow
from app.repositories import throttle_gates as gates_repo

log = get_logger(__name__)


class SharedGate(LocalGate):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        recheck_seconds: float = 0.25,
        max_wait: float = MAX_WAIT_SECONDS,
        default_pause: float = DEFAULT_PAUSE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_wait=max_wait, default_pause=default_pause, clock=clock, sleep=sleep)
        self._sessionmaker = sessionmaker
        self.recheck_seconds = recheck_seconds
        self._monotonic = monotonic
        self._read_at: dict[str, float] = {}

    async def _shared_until(self, target: str) -> tuple[datetime, str] | None:
        now = self._monotonic()
        read_at = self._read_at.get(target)
        if read_at is not None and now - read_at < self.recheck_seconds:
            return None  # what this process knows is fresh enough
        self._read_at[target] = now
        try:
            async with self._sessionmaker() as session:
                return await gates_repo.paused_until(session, target)
        except Exception:  # the database away: go on with what this process knows
            log.warning("throttle_gate_unreadable", target=target)
            return None

    async def signal(self, target: str, seconds: float | None, reason: str) -> None:
        until = self.until(seconds)
        already = self.paused(target)
        try:
            async with self._sessionmaker() as session, session.begin():
                until = await gates_repo.raise_gate(session, target, until, reason)
        except Exception:  # the pause still holds in this process
            log.warning("throttle_gate_unwritable", target=target)
        self._remember(target, until, reason)
        metrics.THROTTLE_PAUSED_UNTIL.labels(target).set(until.timestamp())
        metrics.THROTTLE_PAUSES.labels(target, reason).inc()
        if already is None:  # one line per pause, not per signal while it runs
            log.info(
                "throttle_gate_set",
                target=target,
                reason=reason,
                seconds=round((until - self.clock()).total_seconds(), 3),
                paused_until=until.isoformat(),
            )


async def throttled_until(session: AsyncSession) -> dict[str, datetime]:
    """Until when each paused CRM connection is not called, for operators (by connection id)."""
    prefix = crm_target("")
    return {
        g.target.removeprefix(prefix): g.paused_until
        for g in await gates_repo.running(session, utcnow())
        if g.target.startswith(prefix)
    }
