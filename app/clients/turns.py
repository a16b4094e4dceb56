"""Batch turns: the batches of one process prepare (up to their first call out) and record in turn, a few
at a time (the holder's semaphore says how many).

Why: a worker's batches share one event loop. Left to interleave, batches whose calls came back together
prepare together, finish together and call together, so the loop is busy while no call is in flight and
idle while all are. Taking turns staggers them: a batch maps while the others' calls are out.

A batch lets go of its turn for good at its first wait on a remote system (a throttle gate, a call) and
never waits for it again inside the batch: only the engine, holding nothing else, waits for a turn, so a
turn can never be part of a deadlock (e.g. with a client's login lock held across a call).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class _Held:
    lock: asyncio.Semaphore
    task: asyncio.Task[object] | None
    holding: bool = True

    def let_go(self) -> None:
        if self.holding:
            self.holding = False
            self.lock.release()


_current: ContextVar[_Held | None] = ContextVar("batch_turn", default=None)


@asynccontextmanager
async def turn(lock: asyncio.Semaphore) -> AsyncIterator[None]:
    """Hold the process's turn for the body, or until the body's first wait on a remote system."""
    await lock.acquire()
    held = _Held(lock, asyncio.current_task())
    token = _current.set(held)
    try:
        yield
    finally:
        _current.reset(token)
        held.let_go()


def let_go() -> None:
    """Before waiting on a remote system: the next batch takes the turn. A no-op outside a turn, and in a
    task the turn's holder started (only the holder's own task lets go)."""
    held = _current.get()
    if held is not None and held.task is asyncio.current_task():
        held.let_go()
