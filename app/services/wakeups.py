"""Waking workers: enqueue the planner and the lane deliverers, coalesced by time bucket.

arq is only the doorbell. What is owed lives in the database, so a lost or duplicated wake-up costs at most
a sweep interval of latency, never an event.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

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
