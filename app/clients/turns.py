"""Batch turns: the batches of one process prepare (up to their first call out) and record in turn, a few
at a time (the semaphore says how many); and a batch calls out only once the calls of the batch before it
in its lane partition are over, so a partition keeps one call in flight while its next batch is claimed
and mapped (the two never share a record: the claim leaves out records with a change still out).

Why: a worker's batches share one event loop. Left to interleave, batches whose calls came back together
prepare together, finish together and call together, so the loop is busy while no call is in flight and
idle while all are. Taking turns staggers them: a batch maps while the others' calls are out.

A batch lets go of its turn for good at its first wait on a remote system (a throttle gate, a call) and
never waits for it again inside the batch: only the engine, holding nothing else, waits for a turn. A batch
waits for its predecessor at the throttle gate, which every client call passes before it takes any lock of
its own (a login, say): so neither wait can be part of a deadlock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(eq=False)
class Batch:
    """One batch's place among its process's batches."""

    turns: asyncio.Semaphore
    after: Batch | None = None  # the previous batch of the same partition: calls once its calls are over
    called_out: asyncio.Event = field(default_factory=asyncio.Event)  # its turn given up: a call, or its end
    calls_over: asyncio.Event = field(default_factory=asyncio.Event)  # set by the engine
    _task: asyncio.Task[object] | None = None
    _holding: bool = False

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the process's turn for the body, or until the body's first wait on a remote system."""
        await self.turns.acquire()
        self._holding, self._task = True, asyncio.current_task()
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)
            self._let_go()

    def _let_go(self) -> None:
        if self._holding:
            self._holding = False
            self.turns.release()
            self.called_out.set()


_current: ContextVar[Batch | None] = ContextVar("batch_turn", default=None)


def _own() -> Batch | None:
    """The batch whose turn this task holds (not a task it started: only the holder lets go)."""
    batch = _current.get()
    return batch if batch is not None and batch._task is asyncio.current_task() else None


def let_go() -> None:
    """Before waiting on a remote system: the next batch takes the turn. A no-op outside a turn."""
    if (batch := _own()) is not None:
        batch._let_go()


async def before_calling_out() -> None:
    """At the throttle gate, before any call: let go of the turn, then wait for the partition's previous
    batch's calls to be over, so the partition never has two calls in flight."""
    if (batch := _own()) is None:
        return
    batch._let_go()
    if batch.after is not None:
        await batch.after.calls_over.wait()
        batch.after = None
