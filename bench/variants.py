"""Bench-only variants of the bridge, each changing one thing, to price a change in app/ in the same run as
the plain rows (before making it, or, as here, to show what a change already made is worth). Nothing here
is used by the bridge itself; every variant keeps the endpoint's behaviour and guarantees.

Of the API (`uvicorn bench.variants:NAME --factory`, settings from BRIDGE_* variables, `bench.ingest
--variants`):

- ``commit_per_request``: the webhook group commit limited to one event per commit, i.e. what every
  request cost before group commit (the same statement, pool and wake-up otherwise).

Of `bridge worker` (`python -m bench.variants worker NAME`, `bench.delivery --variants`):

- ``one_call_in_flight``: `BRIDGE_CONNECTION_CONCURRENCY=1`, one lane partition per connection and object,
  so at most one call in flight per target, as before lanes were partitioned.
- ``eight_in_flight``: `BRIDGE_CONNECTION_CONCURRENCY=8`, twice the default partitions, so up to eight
  calls in flight per target: what a higher per-connection limit is worth when calls are slow.
- ``asyncio_loop``: the worker on asyncio's own event loop instead of uvloop.
- ``no_batch_turns``: a process's batches interleave freely instead of taking turns to prepare and record
  (app/clients/turns.py), as before turns.
- ``default_gc``: Python's own garbage-collector thresholds instead of the worker's (`tune_gc`).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

from fastapi import FastAPI

import app.context
from app.main import create_app
from app.repositories.inbox_writer import InboxWriter


def commit_per_request() -> FastAPI:
    app.context.InboxWriter = functools.partial(InboxWriter, max_rows=1)  # type: ignore[misc]
    return create_app()


def one_call_in_flight() -> None:
    os.environ["BRIDGE_CONNECTION_CONCURRENCY"] = "1"


def eight_in_flight() -> None:
    os.environ["BRIDGE_CONNECTION_CONCURRENCY"] = "8"


def no_batch_turns() -> None:
    app.context.BATCH_TURNS = 1_000_000  # a turn for every batch: they interleave freely


def default_gc() -> None:
    import app.worker.main

    app.worker.main.tune_gc = lambda: None  # type: ignore[assignment]


def asyncio_loop() -> None:
    import asyncio

    import app.worker.main

    app.worker.main.run_loop = asyncio.run  # type: ignore[assignment]


WORKER_VARIANTS: dict[str, Callable[[], None]] = {
    "one_call_in_flight": one_call_in_flight,
    "eight_in_flight": eight_in_flight,
    "asyncio_loop": asyncio_loop,
    "no_batch_turns": no_batch_turns,
    "default_gc": default_gc,
}


def main() -> None:
    """`python -m bench.variants worker NAME`: `bridge worker` with one variant applied."""
    if len(sys.argv) != 3 or sys.argv[1] != "worker" or sys.argv[2] not in WORKER_VARIANTS:
        raise SystemExit(f"usage: python -m bench.variants worker {{{','.join(WORKER_VARIANTS)}}}")
    WORKER_VARIANTS[sys.argv[2]]()
    from app.cli import main as bridge

    sys.argv = ["bridge", "worker"]
    bridge()


if __name__ == "__main__":
    main()
