"""Delivery benchmark: a backlog of CTMS Clinical Activity events drained by real `bridge worker` processes
into one Salesforce connection (the simulator as a real server), against the simulator's raw throughput.

For each worker count (1, then 2): a fresh simulated world (CTMS vault + Salesforce org, as
tests/e2e/harness.py builds it), emptied tables, N `ctms.record.updated` events stored in the inbox (the
rows the webhook endpoint writes, inserted directly), then the workers start and one wake-up is enqueued;
the clock runs from that wake-up to the last delivery finished (planning + delivery, end to end).

The raw row calls the bridge's own `SalesforceClient.upsert` with full 200-record batches of the same
records, one call at a time (as one lane sends them), from a separate process, against the same simulator.

    .venv/bin/python -m bench.delivery [--events 5000] [--workers 1,2] [--timeout 150]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clients.salesforce import MAX_BATCH, SalesforceClient, SalesforceCredentials
from app.crypto import SecretBox
from app.db import create_engine
from app.domain.envelopes import validate_ctms
from app.models import Connection, EventStatus, InboxEvent, utcnow
from app.services.names import crm_names_for
from app.signing import generate_secret
from app.simulators.common.calllog import ApiCall
from app.simulators.common.server import ServerThread
from app.simulators.salesforce.app import create_salesforce_app
from app.simulators.salesforce.state import SalesforceState
from app.simulators.vault.app import create_vault_app
from app.simulators.vault.state import VaultState
from app.worker.queue import ArqQueue
from bench.common import (
    SECRET_KEY,
    bench_database,
    bridge_env,
    cpu_seconds,
    machine,
    memory_kib,
    process,
    ratio,
    redis_database,
    require_loopback,
    table,
)
from bench.events import activity_event
from bench.variants import WORKER_VARIANTS

VAULT_USER, VAULT_PASSWORD = "integration@sim.example.com", "integration-password"  # VaultConfig defaults
SF_SECRET = "bench-client-secret-0123456789"  # noqa: S105 - the simulator's made-up connected app
PERSONS = 25  # distinct HCPs the activities are logged against (matched to accounts once, then cached)
TABLES = (
    "delivery_attempts, deliveries, inbox_events, record_links, account_matches, connections, "
    "global_settings, transfer_runs, watermarks, worker_heartbeats"
)
OPEN = ("pending", "in_flight")
INSERT_CHUNK = 1_000


@dataclass
class World:
    vault: VaultState
    sf: SalesforceState
    vault_url: str
    sf_url: str
    persons: list[str]
    study: str
    site: str
    creator: int
    connection: Connection | None = None


@dataclass
class Drain:
    workers: int
    events: int
    seconds: float
    planned_s: float
    finished: int
    statuses: dict[str, int]
    sf_calls: list[ApiCall]
    vault_calls: list[ApiCall]
    rss_idle_kib: list[int]
    rss_peak_kib: list[int]
    cpu_s: list[float]
    notes: list[str] = field(default_factory=list)
    variant: str | None = None

    @property
    def label(self) -> str:
        name = f"bridge, {self.workers} worker{'s' if self.workers > 1 else ''}"
        return f"{name} + {self.variant}" if self.variant else name

    @property
    def rate(self) -> float:
        return self.finished / self.seconds if self.seconds else 0.0

    @property
    def upserts(self) -> list[ApiCall]:
        return [c for c in self.sf_calls if c.records and "Vault_Clinical_Interaction" in c.path]


# ---- the world -------------------------------------------------------------------------------------------


def build_world(stack: ExitStack) -> World:
    vault = VaultState()
    sf = SalesforceState(daily_api_limit=10_000_000)
    vault_url = stack.enter_context(ServerThread(create_vault_app(vault))).url
    sf_url = stack.enter_context(ServerThread(create_salesforce_app(sf))).url
    require_loopback(vault_url)
    require_loopback(sf_url)
    persons = []
    for n in range(PERSONS):
        identifier = f"HCP-{n:06d}"
        person = vault.user_create(
            "person__sys",
            {"first_name__sys": "Rosa", "last_name__sys": f"Lind{n}", "external_id__v": identifier},
        )
        persons.append(str(person["id"]))
        sf.create_record("Account", {"Name": f"Dr Rosa Lind{n}", "External_ID_vod__c": identifier})
    study = str(vault.user_create("study__v", {"name__v": "VVT485-301"})["id"])
    site = str(vault.user_create("site__v", {"name__v": "Site 101 Berlin", "study__v": study})["id"])
    human = vault.config.human_users[0].username
    creator = next(int(u["id"]) for u in vault.records_of("user__sys") if u.get("username__sys") == human)
    return World(vault, sf, vault_url, sf_url, persons, study, site, creator)


async def prepare(engine: AsyncEngine, world: World, events: int) -> None:
    """Empty tables, the connection (as an admin would create it), and `events` stored events."""
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    client_id = f"bench-{uuid.uuid4().hex[:8]}"
    world.sf.register_client(client_id, SF_SECRET)
    box = SecretBox(SECRET_KEY)
    connection = Connection(
        id=f"conn_{uuid.uuid4().hex[:12]}",
        name="Bench CRM",
        platform="salesforce",
        crm={"login_url": world.sf_url, "client_id": client_id, "api_version": "v62.0"},
        secrets_encrypted=box.seal({"client_secret": SF_SECRET}),
        webhook_secrets_encrypted=box.seal([generate_secret()]),
        sync_studies_and_sites=True,
        active=True,
    )
    world.connection = connection
    rows = []
    for n in range(events):
        document = activity_event(
            n + 1,
            person_id=world.persons[n % len(world.persons)],
            study_id=world.study,
            site_id=world.site,
            created_by=world.creator,
        )
        fields = validate_ctms(document)
        rows.append(
            {
                "sender": "ctms",
                "webhook_id": f"msg_bench_{n:08d}",
                "source": "ctms",
                "connection_id": None,
                "type": fields.type,
                "object": fields.object,
                "record_id": fields.record_id,
                "source_modified_at": fields.source_modified_at,
                "payload": document,
                "status": EventStatus.RECEIVED,
                "received_at": utcnow(),
            }
        )
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(connection)
        await session.commit()
    async with engine.begin() as conn:
        for start in range(0, len(rows), INSERT_CHUNK):
            await conn.execute(insert(InboxEvent.__table__), rows[start : start + INSERT_CHUNK])  # type: ignore[attr-defined]


# ---- one drain -------------------------------------------------------------------------------------------


async def wait_for_heartbeats(engine: AsyncEngine, pids: list[int], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT count(DISTINCT pid) FROM worker_heartbeats WHERE pid = ANY(:p)"), {"p": pids}
            )
            if found.scalar_one() == len(pids):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"workers {pids} did not report in within {within}s")


async def progress(engine: AsyncEngine) -> tuple[int, int, dict[str, int]]:
    """(events not yet planned, deliveries still open, deliveries by status)."""
    async with engine.connect() as conn:
        waiting = (
            await conn.execute(text("SELECT count(*) FROM inbox_events WHERE status = 'received'"))
        ).scalar_one()
        rows = (await conn.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status"))).all()
    statuses = {str(s): int(c) for s, c in rows}
    return int(waiting), sum(statuses.get(s, 0) for s in OPEN), statuses


async def last_finished(engine: AsyncEngine, started_at: Any) -> tuple[float, float]:
    """Seconds from the wake-up to the last event planned, and to the last delivery finished."""
    async with engine.connect() as conn:
        planned = (await conn.execute(text("SELECT max(processed_at) FROM inbox_events"))).scalar_one()
        finished = (await conn.execute(text("SELECT max(finished_at) FROM deliveries"))).scalar_one()
    return (
        (planned - started_at).total_seconds() if planned else 0.0,
        (finished - started_at).total_seconds() if finished else 0.0,
    )


def worker_command(variant: str | None) -> list[str]:
    """`bridge worker`, or the same with one bench/variants.py change applied."""
    if variant:
        return [sys.executable, "-m", "bench.variants", "worker", variant]
    return [sys.executable, "-m", "app", "worker"]


def drain(
    database_url: str,
    redis_url: str,
    world: World,
    events: int,
    workers: int,
    timeout: float,
    log_dir: Path,
    variant: str | None = None,
) -> Drain:
    env = bridge_env(
        database_url,
        redis_url,
        BRIDGE_VAULT_URL=world.vault_url,
        BRIDGE_VAULT_USERNAME=VAULT_USER,
        BRIDGE_VAULT_PASSWORD=VAULT_PASSWORD,
        BRIDGE_VAULT_ID=str(world.vault.config.vault_id),
        BRIDGE_SWEEPER_INTERVAL_SECONDS="5",  # a safety net only: the run starts with an explicit wake-up
        BRIDGE_SWEEPER_GRACE_SECONDS="1",
        BRIDGE_TRANSFER_INTERVAL_SECONDS="3600",  # hourly at :00 (arq cron): keeps catch-up out of the run
    )

    async def run() -> Drain:
        engine = create_engine(database_url)
        try:
            await prepare(engine, world, events)
            with ExitStack() as stack:
                procs = [
                    stack.enter_context(
                        process(
                            worker_command(variant),
                            env,
                            log_dir / f"worker-{workers}-{n}.log",
                        )
                    )
                    for n in range(workers)
                ]
                await wait_for_heartbeats(engine, [p.pid for p in procs])
                idle = [memory_kib(p.pid)["VmHWM"] for p in procs]
                cpu0 = [cpu_seconds(p.pid) for p in procs]
                world.sf.calls.clear()
                world.vault.calls.clear()
                queue = ArqQueue(redis_url)
                started_at = utcnow()
                await queue.enqueue("process_inbox", job_id=f"process_inbox:bench:{uuid.uuid4().hex[:6]}")
                await queue.close()
                deadline = time.monotonic() + timeout
                notes: list[str] = []
                while True:
                    waiting, open_, statuses = await progress(engine)
                    if not waiting and not open_ and sum(statuses.values()) >= events:
                        break
                    if any(p.poll() is not None for p in procs):
                        notes.append("a worker exited during the run")
                        break
                    if time.monotonic() > deadline:
                        notes.append(
                            f"stopped at the {timeout:.0f} s limit: {waiting} unplanned, {open_} open"
                        )
                        break
                    await asyncio.sleep(0.2)
                planned, seconds = await last_finished(engine, started_at)
                async with engine.connect() as conn:
                    transfers = (await conn.execute(text("SELECT count(*) FROM transfer_runs"))).scalar_one()
                if transfers:  # arq cron cannot run it less than hourly: at :00 it falls into the run
                    notes.append(f"{transfers} Transfer run(s) (hourly cron) during the drain")
                peak = [memory_kib(p.pid)["VmHWM"] for p in procs if p.poll() is None]
                cpu = [cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0, strict=True) if p.poll() is None]
            finished = sum(v for k, v in statuses.items() if k not in OPEN)
            if statuses.get("delivered", 0) != events:
                notes.append(
                    "not all delivered: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
                )
            return Drain(
                workers,
                events,
                seconds,
                planned,
                finished,
                statuses,
                list(world.sf.calls.calls),
                list(world.vault.calls.calls),
                idle,
                peak,
                cpu,
                notes,
                variant,
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


# ---- the simulator's raw throughput ------------------------------------------------------------------------


def raw_records(world: World, count: int) -> tuple[str, str, list[dict[str, Any]]]:
    """The records the bridge wrote (its fields only), under new external ids: what the raw row sends."""
    assert world.connection is not None
    names = crm_names_for(world.connection).interaction
    wanted = [names.external_id, *names.fields.model_dump().values()]
    written = world.sf.list_records(names.object)
    if not written:
        raise RuntimeError("the bridge wrote no interaction to copy for the raw row")
    records = []
    for n in range(count):
        source = written[n % len(written)]
        record = {k: source.get(k) for k in wanted}
        record[names.external_id] = f"RAW{n:012d}"
        records.append(record)
    return names.object, names.external_id, records


def raw_upserts(
    url: str, client_id: str, object_name: str, id_field: str, records: list[dict[str, Any]]
) -> float:
    """Runs in a separate process: sequential 200-record upserts through the bridge's client; seconds taken."""
    require_loopback(url)

    async def run() -> float:
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0)) as http:
            client = SalesforceClient(http, SalesforceCredentials(url, client_id, SF_SECRET), target="raw")
            await client.login()
            started = time.perf_counter()
            for start in range(0, len(records), MAX_BATCH):
                result = await client.upsert(object_name, id_field, records[start : start + MAX_BATCH])
                if not all(r.ok for r in result.results):
                    raise RuntimeError("the simulator refused a raw record")
            return time.perf_counter() - started

    return asyncio.run(run())


def raw_row(world: World, count: int) -> float:
    object_name, id_field, records = raw_records(world, count)
    client_id = f"raw-{uuid.uuid4().hex[:8]}"
    world.sf.register_client(client_id, SF_SECRET)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        seconds = pool.submit(raw_upserts, world.sf_url, client_id, object_name, id_field, records).result(
            timeout=300
        )
    return count / seconds


# ---- report ----------------------------------------------------------------------------------------------


def report(drains: list[Drain], raw_rate: float, raw_count: int, events: int) -> str:
    lines = [
        f"## Delivery: {events:,} stored CTMS activity events -> one Salesforce connection (simulator server)",
        "end to end = from the wake-up to the last delivery finished (planning + delivery); calls counted by "
        "the simulators; RSS = worker VmHWM; CPU = worker processes' CPU seconds during the drain",
        "",
    ]
    headers = [
        "row",
        "events/s",
        "seconds",
        "all planned at s",
        "records/upsert call",
        "SF calls/1k events",
        "vault calls/1k events",
        "worker CPU ms/event",
        "peak RSS MiB (at start)",
        "RSS growth MiB/10k events",
        "notes",
    ]
    rows: list[list[object]] = []
    for d in drains:
        upserts = d.upserts
        per_call = sum(c.records for c in upserts) / len(upserts) if upserts else 0.0
        full = sum(1 for c in upserts if c.records == MAX_BATCH)
        growth = (
            sum(p - i for p, i in zip(d.rss_peak_kib, d.rss_idle_kib, strict=False))
            / 1024
            / len(d.rss_peak_kib)
            if d.rss_peak_kib
            else 0.0
        )
        rows.append(
            [
                d.label,
                round(d.rate),
                d.seconds,
                d.planned_s,
                f"{per_call:.1f} ({full}/{len(upserts)} full)",
                len(d.sf_calls) * 1000 / max(1, d.events),
                len(d.vault_calls) * 1000 / max(1, d.events),
                sum(d.cpu_s) * 1000 / max(1, d.finished),
                " + ".join(
                    f"{p / 1024:.0f} ({i / 1024:.0f})"
                    for p, i in zip(d.rss_peak_kib, d.rss_idle_kib, strict=False)
                ),
                growth * 10_000 / max(1, d.events),
                "; ".join(d.notes),
            ]
        )
    rows.append(
        [
            "raw SalesforceClient.upsert, 200/call",
            round(raw_rate),
            raw_count / raw_rate if raw_rate else 0.0,
            "",
            "200.0",
            5.0,
            "",
            "",
            "",
            "",
            "sequential calls, separate process",
        ]
    )
    lines.append(table(headers, rows))
    lines.append("")
    ratios = [[f"{d.label} / raw simulator", ratio(d.rate, raw_rate)] for d in drains]
    base = {d.workers: d for d in drains if d.variant is None}
    if 1 in base and 2 in base:
        ratios.append(["bridge 2 workers / 1 worker", ratio(base[2].rate, base[1].rate)])
    for d in drains:
        if d.variant and d.workers in base:
            ratios.append([f"{d.label} / without", ratio(d.rate, base[d.workers].rate)])
    lines.append(table(["ratio (events/s)", "value"], ratios))
    lines.append("")
    for d in drains:
        by_kind: dict[str, int] = {}
        for c in d.sf_calls + d.vault_calls:
            key = f"{c.method} {_shape(c.path)}"
            by_kind[key] = by_kind.get(key, 0) + 1
        lines.append(
            f"calls, {d.label}: "
            + ", ".join(f"{k} ×{v}" for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1]))
        )
        lines.append(f"upsert sizes in order, {d.label}: {_runs([c.records for c in d.upserts])}")
    return "\n".join(lines)


def _runs(values: list[int]) -> str:
    """200 ×12, 143, 200 ×3: a sequence with its repeats folded."""
    out: list[str] = []
    for value in values:
        if out and out[-1].split(" ")[0] == str(value):
            count = int(out[-1].split("×")[1]) + 1 if "×" in out[-1] else 2
            out[-1] = f"{value} ×{count}"
        else:
            out.append(str(value))
    return ", ".join(out)


def _shape(path: str) -> str:
    """A call's path without ids and versions, to group calls by kind."""
    parts = [p for p in path.split("/") if p]
    keep = [p for p in parts if not p.startswith("v") or not p[1:2].isdigit()]
    return "/" + "/".join(keep[:5])


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description="Delivery benchmark (bench/README.md)")
    parser.add_argument("--events", type=int, default=5_000, help="events in the backlog")
    parser.add_argument("--workers", default="1,2", help="worker process counts to run")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds allowed per drain")
    parser.add_argument(
        "--variants", action="store_true", help="also run each bench/variants.py worker variant (1 worker)"
    )
    args = parser.parse_args(argv)
    runs: list[tuple[int, str | None]] = [(int(w), None) for w in args.workers.split(",")]
    if args.variants:
        runs += [(1, name) for name in WORKER_VARIANTS]
    drains: list[Drain] = []
    raw_rate = 0.0
    with ExitStack() as outer:
        tmp = Path(outer.enter_context(tempfile.TemporaryDirectory(prefix="bench-delivery-")))
        database_url = outer.enter_context(bench_database())
        redis_url = outer.enter_context(redis_database())
        for workers, variant in runs:
            with ExitStack() as stack:
                world = build_world(stack)
                result = drain(
                    database_url, redis_url, world, args.events, workers, args.timeout, tmp, variant
                )
                drains.append(result)
                print(f"[delivery] {result.label} done", file=sys.stderr)
                if not raw_rate:
                    raw_rate = raw_row(world, args.events)
    text_ = report(drains, raw_rate, args.events, args.events)
    print(text_)
    return text_


if __name__ == "__main__":
    print(machine() + "\n")
    main()
