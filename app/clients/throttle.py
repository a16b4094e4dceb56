"""The throttle gate every client consults: a target that asked us to slow down is not called before the
time it gave, by any caller that shares the gate.

A target is one CRM connection (``crm:{connection id}``) or the CTMS vault (``ctms``): the same names the
clients use for metrics and attempt records. Clients only report what the target said (`signal`) and ask
before each call (`before_call`); where the pause is kept is the gate's business. `LocalGate` keeps it in
this process; the delivery engine's gate (app/services/throttle.py) also shares it through the database,
so every worker process honours it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from app.clients.errors import TransientError
from app.clients.turns import before_calling_out

THROTTLED = "THROTTLED"
MAX_WAIT_SECONDS = 5.0  # a shorter pause is waited out in place; a longer one gives the work back
DEFAULT_PAUSE_SECONDS = 30.0  # a limit answer without Retry-After (Salesforce sends none on REST)


def utcnow() -> datetime:
    return datetime.now(UTC)


def ctms_target() -> str:
    return "ctms"


def crm_target(connection_id: str) -> str:
    return f"crm:{connection_id}"


def target_for(connection_id: str | None) -> str:
    """The target a lane writes to: its CRM connection, or the CTMS when it has none."""
    return crm_target(connection_id) if connection_id else ctms_target()


class ThrottledError(TransientError):
    """A call was not made: its target is paused for longer than a caller should wait in place."""

    def __init__(self, target: str, until: datetime, reason: str) -> None:
        seconds = max(0.0, (until - utcnow()).total_seconds())
        super().__init__(
            THROTTLED, f"{target} asked us to slow down ({reason}); calls wait until {until.isoformat()}",
            retry_after=seconds,
        )  # fmt: skip
        self.target = target
        self.until = until


class ThrottleGate(Protocol):
    async def before_call(self, target: str) -> None:
        """Return when the target may be called: at once, or after waiting out a short pause. Raises
        ThrottledError when the pause is longer than the gate waits in place."""
        ...

    async def signal(self, target: str, seconds: float | None, reason: str) -> None:
        """The target asked for `seconds` of quiet (None: it named no time, the gate's default applies):
        nobody sharing the gate calls it before then."""
        ...


Sleep = Callable[[float], Awaitable[None]]


class LocalGate:
    """The pauses known to this process. `_shared_until` is where a gate that is shared across processes
    adds what the others know."""

    def __init__(
        self,
        *,
        max_wait: float = MAX_WAIT_SECONDS,
        default_pause: float = DEFAULT_PAUSE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_wait = max_wait
        self.default_pause = default_pause
        self.clock = clock
        self._sleep = sleep
        self._until: dict[str, tuple[datetime, str]] = {}

    def paused(self, target: str) -> tuple[datetime, str] | None:
        """The pause this process knows of, if it is still running."""
        known = self._until.get(target)
        return known if known and known[0] > self.clock() else None

    async def paused_until(self, target: str) -> tuple[datetime, str] | None:
        shared = await self._shared_until(target)
        if shared is not None:
            self._remember(target, *shared)
        return self.paused(target)

    async def before_call(self, target: str) -> None:
        await before_calling_out()  # another batch works meanwhile; this one's predecessor finishes first
        while (pause := await self.paused_until(target)) is not None:
            until, reason = pause
            remaining = (until - self.clock()).total_seconds()
            if remaining > self.max_wait:
                raise ThrottledError(target, until, reason)
            await self._sleep(remaining)

    async def signal(self, target: str, seconds: float | None, reason: str) -> None:
        self._remember(target, self.until(seconds), reason)

    def until(self, seconds: float | None) -> datetime:
        pause = self.default_pause if seconds is None else max(0.0, seconds)
        return self.clock() + timedelta(seconds=pause)

    def _remember(self, target: str, until: datetime, reason: str) -> bool:
        """Keep the later of two pauses; True when this one moved the pause on."""
        known = self._until.get(target)
        if known is not None and known[0] >= until:
            return False
        self._until[target] = (until, reason)
        return True

    async def _shared_until(self, target: str) -> tuple[datetime, str] | None:
        return None
