"""Waking workers: enqueue the planner and the lane deliverers, coalesced by time bucket.

arq is only the doorbell. What is owed lives in the database, so a lost or duplicated wake-up costs at most
a sweep interval of latency, never an event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from app.worker.queue import JobQueue

PLAN_JOB = "process_inbox"
DELIVER_JOB = "deliver_lane"
COALESCE_SECONDS = 0.1  # at most one job per 100 ms per lane, however many events arrive


def _bucket() -> int:
    return int(time.time() / COALESCE_SECONDS)


async def wake_planner(queue: JobQueue) -> None:
    await queue.enqueue(PLAN_JOB, job_id=f"{PLAN_JOB}:{_bucket()}")


async def wake_lanes(queue: JobQueue, lanes: Iterable[str], defer_seconds: float = 0) -> None:
    bucket = _bucket() + int(defer_seconds / COALESCE_SECONDS)
    for lane in sorted(set(lanes)):
        await queue.enqueue(
            DELIVER_JOB, lane, job_id=f"{DELIVER_JOB}:{lane}:{bucket}", defer_seconds=defer_seconds
        )


class PlannerDoorbell:
    """Wakes the planner at most once per coalescing bucket per process, never losing the last ring.

    A ring inside a bucket that already rang schedules one more ring at the start of the next bucket:
    the earlier job may already be running and miss the event just stored. Rings never delay a
    request (they run as background tasks); a failed ring is logged and the sweeper stays the guarantee.
    """

    def __init__(self, queue: JobQueue, on_error: Callable[[Exception], None]) -> None:
        self._queue = queue
        self._on_error = on_error
        self._rang: int | None = None
        self._trailing = False
        self._tasks: set[asyncio.Task[None]] = set()

    def ring(self) -> None:
        bucket = _bucket()
        if self._rang != bucket:
            self._rang = bucket
            self._spawn()
        elif not self._trailing:
            self._trailing = True
            delay = (bucket + 1) * COALESCE_SECONDS - time.time()
            asyncio.get_running_loop().call_later(max(delay, 0.0), self._ring_trailing)

    def _ring_trailing(self) -> None:
        self._trailing = False
        self.ring()

    def _spawn(self) -> None:
        task = asyncio.get_running_loop().create_task(self._enqueue())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _enqueue(self) -> None:
        try:
            await wake_planner(self._queue)
        except Exception as exc:  # reported, never raised: the sweeper finds the event
            self._on_error(exc)
