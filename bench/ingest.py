"""Ingest benchmark: the bridge's `POST /webhooks/ctms` against a bare 202 endpoint and a verify-only one.

Every row is a real uvicorn server (1 or 2 worker processes) on 127.0.0.1 loaded by wrk (or the fallback
bench/loadgen.py) from a separate process with validly signed ~1 KB `ctms.record.updated` events:

- bare:          FastAPI answering 202, nothing else (bench/apps.py)
- verify-only:   the bridge's own size/media-type/signature/JSON/envelope steps, then 202 (bench/apps.py)
- bridge:        `bridge serve` on PostgreSQL + Redis, every webhook id new (stored + planner woken)
- bridge dup:    the same requests sent again: every one a duplicate (no insert, no enqueue)

Each row: a short warm-up, then a timed load; only ratios between rows of one run are meant to be compared.

    .venv/bin/python -m bench.ingest [--duration 5] [--workers 1,2] [--connections 32] [--variants] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg

from bench import loadgen
from bench.common import (
    CTMS_SECRET,
    LOOPBACK,
    ROOT,
    bench_database,
    bridge_env,
    cpu_seconds,
    free_port,
    machine,
    process,
    ratio,
    redis_database,
    require_loopback,
    table,
    wait_http,
)
from bench.events import signed_request

LUA = ROOT / "bench" / "wrk_signed.lua"
PATH = "/webhooks/ctms"
MAX_RATE = 6_000  # req/s no row of the bridge reaches on 2 cores: sizes the pool of distinct webhook ids
# Bench-only app factories that change one thing in the bridge's webhook path (bench/variants.py)
VARIANTS = {"bridge, commit per request": "bench.variants:commit_per_request"}


@dataclass
class Row:
    name: str
    workers: int
    result: dict[str, Any]
    cpu_s: float  # CPU seconds the server processes used during the timed load
    notes: list[str] = field(default_factory=list)
    connects: int | None = None  # new connections to PostgreSQL during the timed load

    @property
    def rate(self) -> float:
        return float(self.result["requests"]) / float(self.result["duration_s"])

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s * 1e3 / max(1, int(self.result["requests"]))


@dataclass
class Options:
    duration: int
    warmup: int
    connections: int
    threads: int
    generator: str
    workdir: Path
    database_url: str
    open_rate: int = 0  # the open-loop row's fixed arrival rate (0: no such row)
    rss_events: int = 0  # events to send before reading the API's memory (0: not measured)


# ---- requests and load -----------------------------------------------------------------------------------


def write_requests(path: Path, count: int, run: str) -> Path:
    """`count` validly signed requests with webhook ids unique to `run`, one per line (see wrk_signed.lua)."""
    stamp = int(time.time())
    with path.open("wb") as f:
        for n in range(count):
            headers, body = signed_request(CTMS_SECRET, n, run=run, timestamp=stamp)
            fields = (headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"])
            f.write("\t".join(fields).encode() + b"\t" + body + b"\n")
    return path


def load(url: str, requests_file: Path, seconds: int, opts: Options) -> dict[str, Any]:
    require_loopback(url)
    if opts.generator == "python":
        return loadgen.run(
            url, requests_file, connections=opts.connections, duration=seconds, procs=opts.threads
        )
    args = [
        "wrk",
        f"-t{opts.threads}",
        f"-c{opts.connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        url,
        "--",
        str(requests_file),
        str(opts.threads),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
            return result
    raise RuntimeError(
        f"wrk gave no result (exit {done.returncode}): {done.stdout[-800:]} {done.stderr[-800:]}"
    )


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants (uvicorn's supervisor and its workers)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


async def db_sessions(database_url: str) -> int:
    """Connections ever opened to the bench database (pg_stat_database.sessions, PostgreSQL 14+)."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        value = await conn.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return int(value or 0)


def measured(name: str, workers: int, url: str, pid: int, requests_file: Path, opts: Options) -> Row:
    sessions = asyncio.run(db_sessions(opts.database_url))
    before = tree_cpu(pid)
    result = load(url, requests_file, opts.duration, opts)
    row = Row(name, workers, result, tree_cpu(pid) - before)
    if name.startswith("bridge"):
        row.connects = asyncio.run(db_sessions(opts.database_url)) - sessions - 1  # less our own reading
    if result["other_status"] or result["socket_errors"] or result["timeouts"]:
        row.notes.append(
            f"{result['other_status']} non-202, {result['socket_errors']} socket errors, "
            f"{result['timeouts']} timeouts"
        )
    return row


# ---- servers ---------------------------------------------------------------------------------------------


@contextmanager
def server(args: Sequence[str], env: dict[str, str], log: Path, port: int) -> Iterator[tuple[str, int]]:
    with process(args, env, log) as proc:
        wait_http(f"http://{LOOPBACK}:{port}/healthz", 60, proc)
        yield f"http://{LOOPBACK}:{port}{PATH}", proc.pid


def uvicorn_args(factory: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def bridge_args(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "app",
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


async def stored_ids(database_url: str, run: str) -> set[str]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        prefix = f"msg_{run}_"
        rows = await conn.fetch(
            "SELECT webhook_id FROM inbox_events WHERE sender = 'ctms' AND left(webhook_id, $2) = $1",
            prefix,
            len(prefix),
        )
    finally:
        await conn.close()
    return {r[0] for r in rows}


def only_stored(source: Path, target: Path, ids: set[str]) -> int:
    kept = 0
    with source.open("rb") as src, target.open("wb") as dst:
        for line in src:
            if line.split(b"\t", 1)[0].decode() in ids:
                dst.write(line)
                kept += 1
    return kept


def reference_rows(factory: str, name: str, workers: int, opts: Options, env: dict[str, str]) -> Row:
    port = free_port()
    pool = write_requests(opts.workdir / "reference.txt", 20_000, f"ref{workers}")
    with server(uvicorn_args(factory, port, workers), env, opts.workdir / f"{name}-{workers}.log", port) as (
        url,
        pid,
    ):
        load(url, pool, opts.warmup, opts)
        return measured(name, workers, url, pid, pool, opts)


def bridge_rows(
    name: str, workers: int, opts: Options, env: dict[str, str], database_url: str, factory: str | None = None
) -> list[Row]:
    """New events, then the same events again (all duplicates), on one server."""
    port = free_port()
    run = f"w{workers}{os.urandom(3).hex()}"
    warm = write_requests(opts.workdir / "warm.txt", opts.warmup * MAX_RATE, f"{run}warm")
    fresh = write_requests(opts.workdir / "fresh.txt", opts.duration * MAX_RATE, run)
    args = uvicorn_args(factory, port, workers) if factory else bridge_args(port, workers)
    slug = name.replace(" ", "_").replace(",", "")
    rows = []
    with server(args, env, opts.workdir / f"{slug}-{workers}.log", port) as (url, pid):
        load(url, warm, opts.warmup, opts)
        row = measured(name, workers, url, pid, fresh, opts)
        ids = asyncio.run(stored_ids(database_url, run))
        if row.result["wrapped"]:
            row.notes.append(f"ran out of new ids ({row.result['wrapped']} restarts): raise MAX_RATE")
        in_flight = len(ids) - row.result["accepted"]  # sent when the timer stopped, stored, not counted
        if not 0 <= in_flight <= opts.connections:
            row.notes.append(f"{len(ids)} stored vs {row.result['accepted']} answered accepted")
        rows.append(row)
        if factory is None:
            dups = opts.workdir / "dups.txt"
            if only_stored(fresh, dups, ids):
                dup = measured(f"{name} duplicate", workers, url, pid, dups, opts)
                if dup.result["accepted"]:
                    dup.notes.append(f"{dup.result['accepted']} were not duplicates")
                rows.append(dup)
            if opts.open_rate:
                rows.append(open_loop_row(name, workers, url, pid, run, opts))
            if opts.rss_events:
                rows.append(memory_row(name, workers, url, pid, run, opts))
    return rows


def open_loop_row(name: str, workers: int, url: str, pid: int, run: str, opts: Options) -> Row:
    """A fixed arrival rate (not closed-loop): latency here is what a sender sees at that load."""
    requests = write_requests(opts.workdir / "open.txt", opts.open_rate * opts.duration, f"{run}open")
    before = tree_cpu(pid)
    result = loadgen.open_loop(url, requests, rate=opts.open_rate, duration=opts.duration)
    row = Row(f"{name} open-loop {opts.open_rate:,}/s", workers, result, tree_cpu(pid) - before)
    if result["late_sends"]:
        row.notes.append(f"{result['late_sends']} sends late (generator behind)")
    if result["other_status"] or result["socket_errors"]:
        row.notes.append(f"{result['other_status']} non-202, {result['socket_errors']} socket errors")
    return row


def memory_row(name: str, workers: int, url: str, pid: int, run: str, opts: Options) -> Row:
    """Load until the server has answered `rss_events` events in all, then read its processes' memory."""
    answered, chunk, n = 0, MAX_RATE * opts.duration, 0
    before = tree_cpu(pid)
    totals: dict[str, Any] = {"requests": 0, "duration_s": 0.0, "p50_ms": "", "p99_ms": ""}
    while answered < opts.rss_events:
        requests = write_requests(opts.workdir / "rss.txt", chunk, f"{run}rss{n}")
        result = load(url, requests, opts.duration, opts)
        answered += int(result["requests"])
        totals["requests"] += int(result["requests"])
        totals["duration_s"] += float(result["duration_s"])
        n += 1
    row = Row(f"{name} memory", workers, totals, tree_cpu(pid) - before)
    rss = tree_rss_mb(pid)
    row.notes.append(
        f"after {answered + opts.warmup:,}+ events: RSS per uvicorn worker "
        f"{', '.join(f'{mb:.0f}' for mb in rss[1:])} MB (supervisor {rss[0]:.0f} MB)"
    )
    return row


def tree_rss_mb(pid: int) -> list[float]:
    """Resident memory of a process, then of each of its children, in MB."""
    out = []
    for current in [pid, *children(pid)]:
        for line in Path(f"/proc/{current}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out.append(int(line.split()[1]) / 1024)
    return out


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(c) for c in (task / "children").read_text().split())
    return found


# ---- report ----------------------------------------------------------------------------------------------


def medians(rows: list[Row]) -> list[Row]:
    """One row per (name, workers): the run with the median rate, noting the spread when repeated."""
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.name, row.workers), []).append(row)
    out = []
    for runs in groups.values():
        ordered = sorted(runs, key=lambda r: r.rate)
        middle = ordered[(len(ordered) - 1) // 2]
        if len(runs) > 1:
            middle.notes.insert(
                0, f"median of {len(runs)}: {', '.join(f'{r.rate:,.0f}' for r in ordered)} req/s"
            )
        out.append(middle)
    return out


def report(rows: list[Row], opts: Options, generator_note: str) -> str:
    lines = [
        f"## Ingest: POST {PATH}, ~1 KB signed ctms.record.updated events",
        f"load: {generator_note}, {opts.connections} connections, {opts.warmup} s warm-up + {opts.duration} s "
        "per row; server CPU = CPU time of the uvicorn processes during the row (PostgreSQL and Redis excluded); "
        "DB connects = connections opened to PostgreSQL during the row",
        "",
    ]
    headers = ["row", "workers", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "DB connects", "notes"]
    body = [
        [
            r.name,
            r.workers,
            round(r.rate),
            r.result["p50_ms"],
            r.result["p99_ms"],
            r.cpu_ms_per_request,
            "" if r.connects is None else r.connects,
            "; ".join(r.notes),
        ]
        for r in rows
    ]
    lines.append(table(headers, body))
    lines.append("")
    ratio_rows = []
    for workers in sorted({r.workers for r in rows}):
        by = {r.name: r for r in rows if r.workers == workers}
        bridge = by.get("bridge")
        if bridge is None:
            continue
        for other in ("bare", "verify-only"):
            if other in by:
                ratio_rows.append([f"bridge / {other}", workers, ratio(bridge.rate, by[other].rate)])
        if "bridge duplicate" in by:
            ratio_rows.append(
                ["bridge / bridge duplicate", workers, ratio(bridge.rate, by["bridge duplicate"].rate)]
            )
        for name in VARIANTS:
            if name in by:
                ratio_rows.append([f"{name} / bridge", workers, ratio(by[name].rate, bridge.rate)])
    one = {r.name: r for r in rows if r.workers == 1}
    two = {r.name: r for r in rows if r.workers == 2}
    for name in ("bare", "verify-only", "bridge", "bridge duplicate"):
        if name in one and name in two:
            ratio_rows.append([f"{name}: 2 workers / 1 worker", "", ratio(two[name].rate, one[name].rate)])
    lines.append(table(["ratio (req/s)", "workers", "value"], ratio_rows))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description="Ingest benchmark (bench/README.md)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per row")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up load per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (or loadgen processes)")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker process counts to run")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--variants", action="store_true", help="also run the bench/variants.py rows")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run every row this many times, interleaved; report the median"
    )
    parser.add_argument("--open-rate", type=int, default=1000, help="open-loop row's req/s (0: no row)")
    parser.add_argument(
        "--rss-events", type=int, default=100_000, help="events before reading API memory (0: skip)"
    )
    args = parser.parse_args(argv)
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    if generator == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk, or --generator python")
    note = "wrk 4 (bench/wrk_signed.lua)" if generator == "wrk" else "bench/loadgen.py (wrk not installed)"
    workers = [int(w) for w in args.workers.split(",")]
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp,
        bench_database() as db,
        redis_database() as redis,
    ):
        opts = Options(args.duration, args.warmup, args.connections, args.threads, generator, Path(tmp), db)
        last = max(workers)
        env = bridge_env(db, redis)
        for w in workers:
            for n in range(max(1, args.repeat)):
                rows.append(reference_rows("bench.apps:bare_app", "bare", w, opts, env))
                rows.append(reference_rows("bench.apps:verify_app", "verify-only", w, opts, env))
                extra = {"open_rate": args.open_rate, "rss_events": args.rss_events} if w == last else {}
                rows.extend(bridge_rows("bridge", w, replace(opts, **extra) if extra else opts, env, db))
                if args.variants:
                    for name, factory in VARIANTS.items():
                        rows.extend(bridge_rows(name, w, opts, env, db, factory))
                print(f"[ingest] {w} worker(s), pass {n + 1} done", file=sys.stderr)
    text = report(medians(rows), opts, note)
    print(text)
    return text


if __name__ == "__main__":
    print(machine() + "\n")
    main()
