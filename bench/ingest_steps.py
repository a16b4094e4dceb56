"""What one webhook costs, step by step, measured in one process (no HTTP, one request at a time), to
explain the ingest rows: the database step as the endpoint runs it, next to the same work with less
SQLAlchemy machinery, and the wake-up enqueue and the log line.

The steps take turns: `--rounds` rounds of `--count` calls of every step, and each step's median round is
reported, so a burst of other work on the machine does not land on one step only.

    .venv/bin/python -m bench.ingest_steps [--rounds 5] [--count 150]
"""

from __future__ import annotations

import argparse
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

from app.db import create_engine, create_sessionmaker
from app.domain.envelopes import validate_ctms
from app.logging import configure_logging, get_logger
from app.services import intake, wakeups
from app.worker.queue import ArqQueue
from bench import variants
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

    def values(webhook_id: str) -> dict[str, Any]:
        return {
            "sender": "ctms",
            "webhook_id": webhook_id,
            "source": "ctms",
            "connection_id": None,
            "type": fields.type,
            "object": fields.object,
            "record_id": fields.record_id,
            "source_modified_at": fields.source_modified_at,
            "payload": document,
        }

    def endpoint_store(sm: Any, prefix: str) -> Step:
        """intake.store_event in a session and a transaction, as the webhook endpoint runs it."""

        async def step(n: int) -> Any:
            async with sm() as session, session.begin():
                return await intake.store_event(
                    session,
                    source="ctms",
                    sender="ctms",
                    connection_id=None,
                    webhook_id=f"{prefix}-{n}",
                    document=document,
                    type_=fields.type,
                    object_=fields.object,
                    record_id=fields.record_id,
                    source_modified_at=fields.source_modified_at,
                )

        return step

    def core_store(sm: Any) -> Step:
        async def step(n: int) -> Any:
            async with sm() as session, session.begin():
                return await variants._insert_once(session, values(f"core-{n}"))

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

    with_ping = create_engine(database_url)  # the bridge's engine: pool_pre_ping=True
    without_ping = create_engine(database_url, pool_pre_ping=False)
    queue = ArqQueue(redis_url)

    async def wake(_: int) -> None:
        await wakeups.wake_planner(queue)

    with redirect_stdout(log_sink):  # structlog's PrintLogger takes sys.stdout when configured
        configure_logging("INFO", True)
    log = get_logger("bench")

    async def log_line(n: int) -> None:
        log.info("webhook_accepted", source="ctms", event_id=n, type=fields.type, object=fields.object)

    steps: list[tuple[str, Step]] = [
        ("asyncpg alone: BEGIN, INSERT … ON CONFLICT, COMMIT", raw_step),
        (
            "store_event as the endpoint runs it (ORM insert, pre-ping)",
            endpoint_store(create_sessionmaker(with_ping), "ep"),
        ),
        (
            "  same, duplicate webhook id (INSERT, then SELECT)",
            endpoint_store(create_sessionmaker(with_ping), "ep"),
        ),
        ("  without pool pre-ping", endpoint_store(create_sessionmaker(without_ping), "np")),
        ("  Core insert built once, without pre-ping", core_store(create_sessionmaker(without_ping))),
        ("wake_planner (arq enqueue_job, job id already queued)", wake),
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
        await with_ping.dispose()
        await without_ping.dispose()
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
