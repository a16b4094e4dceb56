"""What one webhook costs, step by step, measured in one process (no HTTP, one request at a time), to
explain the ingest rows: the endpoint's store (the group commit) alone and under concurrency, new and
duplicate, next to a bare asyncpg insert, and the wake-up and the log line.

The steps take turns: `--rounds` rounds of `--count` calls of every step, and each step's median round is
reported, so a burst of other work on the machine does not land on one step only.

    .venv/bin/python -m bench.ingest_steps [--rounds 5] [--count 150]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import orjson
import uvloop

from app.db import create_engine
from app.domain.envelopes import validate_ctms
from app.logging import configure_logging, get_logger
from app.repositories.inbox_store import NewEvent
from app.repositories.inbox_writer import InboxWriter
from app.services import wakeups
from app.services.intake import new_event as make_event
from app.worker.queue import ArqQueue
from bench.common import bench_database, machine, redis_database, table
from bench.events import activity_event

RAW_INSERT = (
    "INSERT INTO inbox_events (sender, webhook_id, source, type, object, record_id, source_modified_at,"
    " payload, status, received_at) VALUES ('ctms', $1, 'ctms', $2, $3, $4, $5, $6::jsonb, 'received', now())"
    " ON CONFLICT (sender, webhook_id) DO NOTHING RETURNING id"
)
Step = Callable[[int], Awaitable[Any]]


async def timed(step: Step, first: int, count: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per call of `step` over calls first .. first + count - 1."""
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(first, first + count):
        await step(n)
    return (time.process_time() - cpu) * 1e3 / count, (time.perf_counter() - wall) * 1e3 / count


async def measure(
    database_url: str, redis_url: str, rounds: int, count: int, log_sink: TextIO
) -> list[list[object]]:
    document = activity_event(1)
    fields = validate_ctms(document)
    body = orjson.dumps(document).decode()

    def new_event(webhook_id: str) -> NewEvent:
        return make_event(
            fields, sender="ctms", webhook_id=webhook_id, source="ctms", connection_id=None, payload_json=body
        )

    def alone(prefix: str) -> Step:
        """The endpoint's store, one request at a time: every commit holds one event."""

        async def step(n: int) -> Any:
            return await writer.store(new_event(f"{prefix}-{n}"))

        return step

    def grouped(prefix: str, width: int = 50) -> Step:
        """`width` concurrent requests, as under load: they share commits. Cost is per event."""

        async def step(n: int) -> Any:
            if n % width == 0:
                await asyncio.gather(*(writer.store(new_event(f"{prefix}-{n + i}")) for i in range(width)))

        return step

    raw = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))

    async def raw_step(n: int) -> Any:
        async with raw.transaction():
            return await raw.fetchval(
                RAW_INSERT,
                f"raw-{n}",
                fields.type,
                fields.object,
                fields.record_id,
                fields.source_modified_at,
                body,
            )

    engine = create_engine(database_url, pool_pre_ping=False)  # the intake pool, as Resources makes it
    writer = InboxWriter(engine)
    queue = ArqQueue(redis_url)
    doorbell = wakeups.PlannerDoorbell(queue, on_error=lambda exc: None)

    async def wake(_: int) -> None:
        doorbell.ring()  # what a request pays: at most one enqueue per 100 ms, in the background

    with redirect_stdout(log_sink):  # structlog's PrintLogger takes sys.stdout when configured
        configure_logging("INFO", True)
    log = get_logger("bench")

    async def log_line(n: int) -> None:
        log.info("webhook_accepted", source="ctms", event_id=n, type=fields.type, object=fields.object)

    steps: list[tuple[str, Step]] = [
        ("asyncpg alone: BEGIN, INSERT … ON CONFLICT, COMMIT", raw_step),
        ("InboxWriter.store, one request at a time (a commit per event)", alone("one")),
        ("  same, duplicate webhook id (one statement)", alone("one")),
        ("InboxWriter.store, 50 concurrent requests (shared commits), per event", grouped("many")),
        ("  same, all duplicates", grouped("many")),
        ("doorbell.ring (planner wake-up, coalesced per 100 ms)", wake),
        ("log line webhook_accepted (structlog JSON, redaction)", log_line),
    ]
    results: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in steps}
    try:
        for _, step in steps:  # warm-up: connections, prepared statements, caches
            for n in range(10):
                await step(-n - 1)
        for r in range(rounds):
            for label, step in steps:  # the duplicate step re-sends the ids the step before it stored
                results[label].append(await timed(step, r * count, count))
    finally:
        await raw.close()
        await writer.close()
        await engine.dispose()
        await queue.close()
    return [
        [label, statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs)]
        for label, runs in results.items()
    ]


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description="Per-step cost of one webhook (bench/README.md)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds in which every step takes a turn")
    parser.add_argument("--count", type=int, default=150, help="calls per step per round")
    args = parser.parse_args(argv)
    with (
        bench_database() as database_url,
        redis_database() as redis_url,
        Path(os.devnull).open("w") as log_sink,
    ):
        rows = uvloop.run(measure(database_url, redis_url, args.rounds, args.count, log_sink))
    text = "\n".join(
        [
            "## Ingest steps, in one process, one call at a time (CPU of this process only, not PostgreSQL's)",
            f"median of {args.rounds} interleaved rounds of {args.count} calls per step, after 10 warm-up calls",
            "",
            table(["step", "CPU ms/call", "wall ms/call"], rows),
        ]
    )
    print(text)
    return text


if __name__ == "__main__":
    print(machine() + "\n")
    main(sys.argv[1:])
