"""Delivery benchmark: backlogs of CTMS Clinical Activity events drained by real `bridge worker` processes
into CRM connections (the simulators as real servers), against the simulator's raw throughput, and the
latency of single webhooks under light load. Every "done" figure of issue 11 is a row or a ratio.

Each drain row: a fresh simulated world (CTMS vault + CRM orgs, as tests/e2e/harness.py builds it), emptied
tables, N `ctms.record.updated` events stored in the inbox (the rows the webhook endpoint writes, inserted
directly), then the workers start and one wake-up is enqueued; the clock runs from that wake-up to the last
delivery finished (planning + delivery, end to end). The rows differ in one thing each: worker count,
latency added to every Salesforce call, the worker variant, the number of connections, the CRM platform,
the backlog's size.

The raw row calls the bridge's own `SalesforceClient.upsert` with full 200-record batches of the same
records, one call at a time (as one lane partition sends them), from a separate process.

The light-load row runs `bridge serve` and one `bridge worker`, POSTs signed webhooks one at a time at a
fixed interval and times each from just before its POST to its record appearing in the Salesforce org.

    .venv/bin/python -m bench.delivery [--events 10000] [--workers 1,2] [--latency-ms 250] [--light 40]
        [--fanout 10] [--fanout-events 2000] [--vault-crm-events 10000] [--backlog 0] [--timeout 60]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clients.salesforce import MAX_BATCH, SalesforceClient, SalesforceCredentials
from app.clients.vault import MAX_BATCH as VAULT_MAX_BATCH
from app.crypto import SecretBox
from app.db import create_engine
from app.domain.envelopes import validate_ctms
from app.models import Connection, EventStatus, InboxEvent, utcnow
from app.services.names import crm_names_for
from app.signing import generate_secret, signed_headers
from app.simulators.common.calllog import ApiCall
from app.simulators.common.faults import FaultSettings
from app.simulators.common.server import ServerThread
from app.simulators.salesforce.app import create_salesforce_app
from app.simulators.salesforce.state import SalesforceState
from app.simulators.vault.app import create_vault_app
from app.simulators.vault.state import VaultConfig, VaultState
from app.worker.queue import ArqQueue
from bench.common import (
    CTMS_SECRET,
    LOOPBACK,
    SECRET_KEY,
    bench_database,
    bridge_env,
    cpu_seconds,
    free_port,
    machine,
    memory_kib,
    process,
    ratio,
    redis_database,
    require_loopback,
    table,
    wait_http,
)
from bench.events import activity_event
from bench.ingest import bridge_args
from bench.variants import WORKER_VARIANTS

VAULT_USER, VAULT_PASSWORD = "integration@sim.example.com", "integration-password"  # VaultConfig defaults
SF_SECRET = "bench-client-secret-0123456789"  # noqa: S105 - the simulator's made-up connected app
VAULT_CRM_MATCH = {"ctms_person_field": "external_id__v", "crm_account_field": "external_id__v"}
PERSONS = 25  # distinct HCPs the activities are logged against (matched to accounts once, then cached)
TABLES = (
    "delivery_attempts, deliveries, inbox_events, record_links, account_matches, connections, "
    "global_settings, transfer_runs, watermarks, worker_heartbeats"
)
OPEN = ("pending", "in_flight")
INSERT_CHUNK = 2_000
LIGHT_FIRST = 900_000_000  # activity numbers of the light-load webhooks: apart from the stored backlog's
LIGHT_WARMUP = 3  # webhooks sent (and waited for) before the timed ones: login, study and site, first reads
MIB = 1024  # KiB per MiB; VmHWM is in KiB
MB_IN_MIB = 1_000_000 / 1_048_576


# ---- the world -------------------------------------------------------------------------------------------


@dataclass
class Target:
    """One CRM org behind one connection: a Salesforce org, or a Vault of the CRM flavor."""

    state: Any  # SalesforceState | VaultState
    url: str
    platform: str  # "salesforce" | "vault"

    @property
    def calls(self) -> list[ApiCall]:
        return list(self.state.calls.calls)


@dataclass
class World:
    vault: VaultState
    vault_url: str
    targets: list[Target]
    persons: list[str]
    study: str
    site: str
    creator: int
    connections: list[Connection] = field(default_factory=list)

    @property
    def sf(self) -> SalesforceState:
        state = self.targets[0].state
        assert isinstance(state, SalesforceState)
        return state


def build_world(stack: ExitStack, orgs: int = 1, platform: str = "salesforce") -> World:
    vault = VaultState()
    vault_url = require_loopback(stack.enter_context(ServerThread(create_vault_app(vault))).url)
    targets: list[Target] = []
    for n in range(orgs):
        if platform == "salesforce":
            state: Any = SalesforceState(daily_api_limit=10_000_000)
            url = stack.enter_context(ServerThread(create_salesforce_app(state))).url
        else:
            state = VaultState(config=VaultConfig(flavor="crm", vault_id=5000 + n))
            url = stack.enter_context(ServerThread(create_vault_app(state))).url
        targets.append(Target(state, require_loopback(url), platform))
    persons = []
    for n in range(PERSONS):
        identifier = f"HCP-{n:06d}"
        person = vault.user_create(
            "person__sys",
            {"first_name__sys": "Rosa", "last_name__sys": f"Lind{n}", "external_id__v": identifier},
        )
        persons.append(str(person["id"]))
        for target in targets:
            if target.platform == "salesforce":
                target.state.create_record(
                    "Account", {"Name": f"Dr Rosa Lind{n}", "External_ID_vod__c": identifier}
                )
            else:
                target.state.user_create(  # Vault CRM names accounts from first and last name
                    "account__v",
                    {"first_name__v": "Rosa", "last_name__v": f"Lind{n}", "external_id__v": identifier},
                )
    study = str(vault.user_create("study__v", {"name__v": "VVT485-301"})["id"])
    site = str(vault.user_create("site__v", {"name__v": "Site 101 Berlin", "study__v": study})["id"])
    human = vault.config.human_users[0].username
    creator = next(int(u["id"]) for u in vault.records_of("user__sys") if u.get("username__sys") == human)
    return World(vault, vault_url, targets, persons, study, site, creator)


def connection_for(target: Target, box: SecretBox) -> Connection:
    """The connection an admin would create for the org (active, studies and sites synced)."""
    if target.platform == "salesforce":
        client_id = f"bench-{uuid.uuid4().hex[:8]}"
        target.state.register_client(client_id, SF_SECRET)
        crm: dict[str, Any] = {"login_url": target.url, "client_id": client_id, "api_version": "v62.0"}
        secrets: dict[str, Any] = {"client_secret": SF_SECRET}
        match = None
    else:
        crm = {
            "vault_url": target.url,
            "username": VAULT_USER,
            "vault_id": str(target.state.config.vault_id),
            "api_version": "v25.2",
        }
        secrets, match = {"password": VAULT_PASSWORD}, VAULT_CRM_MATCH
    return Connection(
        id=f"conn_{uuid.uuid4().hex[:12]}",
        name=f"Bench CRM {uuid.uuid4().hex[:4]}",
        platform=target.platform,
        crm=crm,
        secrets_encrypted=box.seal(secrets),
        webhook_secrets_encrypted=box.seal([generate_secret()]),
        account_match=match,
        sync_studies_and_sites=True,
        active=True,
    )


def inbox_rows(world: World, first: int, count: int) -> Iterator[dict[str, Any]]:
    for n in range(first, first + count):
        document = activity_event(
            n + 1,
            person_id=world.persons[n % len(world.persons)],
            study_id=world.study,
            site_id=world.site,
            created_by=world.creator,
        )
        fields = validate_ctms(document)
        yield {
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


async def prepare(engine: AsyncEngine, world: World, events: int) -> None:
    """Empty tables, one connection per org, and `events` stored events (built and inserted a chunk at a
    time, so a 100,000-event backlog never sits in this process's memory whole)."""
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    box = SecretBox(SECRET_KEY)
    world.connections = [connection_for(t, box) for t in world.targets]
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add_all(world.connections)
        await session.commit()
    for start in range(0, events, INSERT_CHUNK):
        rows = list(inbox_rows(world, start, min(INSERT_CHUNK, events - start)))
        async with engine.begin() as conn:
            await conn.execute(insert(InboxEvent.__table__), rows)  # type: ignore[attr-defined]


def worker_env(world: World, database_url: str, redis_url: str) -> dict[str, str]:
    return bridge_env(
        database_url,
        redis_url,
        BRIDGE_VAULT_URL=world.vault_url,
        BRIDGE_VAULT_USERNAME=VAULT_USER,
        BRIDGE_VAULT_PASSWORD=VAULT_PASSWORD,
        BRIDGE_VAULT_ID=str(world.vault.config.vault_id),
        BRIDGE_SWEEPER_INTERVAL_SECONDS="5",  # a safety net only: the run starts with an explicit wake-up
        BRIDGE_SWEEPER_GRACE_SECONDS="1",
        BRIDGE_TRANSFER_INTERVAL_SECONDS="3600",  # hourly at :00 (arq cron): keeps catch-up out of the run
        BRIDGE_WORKER_METRICS_PORT="0",  # several workers (and other sessions' ones) on one machine
    )


# ---- one drain -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """What one drain row runs; `key` names it for the ratios and the issue 11 table."""

    key: str
    events: int
    workers: int = 1
    variant: str | None = None
    orgs: int = 1
    platform: str = "salesforce"
    latency_ms: float = 0.0

    @property
    def label(self) -> str:
        name = f"bridge, {self.workers} worker{'s' if self.workers > 1 else ''}"
        if self.platform == "vault":
            name += " -> Vault CRM"
        if self.orgs > 1 or self.key.startswith("fanout"):
            name += f", {self.orgs} connection{'s' if self.orgs > 1 else ''}"
        if self.latency_ms:
            name += f", SF +{self.latency_ms:.0f} ms/call"
        if self.variant:
            name += f" + {self.variant}"
        if self.key == "backlog":
            name += f", backlog of {self.events:,}"
        return name


@dataclass
class Drain:
    spec: Spec
    seconds: float
    planned_s: float
    finished: int
    statuses: dict[str, int]
    crm_calls: list[ApiCall]
    vault_calls: list[ApiCall]
    rss_idle_kib: list[int]
    rss_peak_kib: list[int]
    cpu_s: list[float]
    interaction_object: str
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def rate(self) -> float:
        """Records (one event delivered to one connection) per second, end to end."""
        return self.finished / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_record(self) -> float:
        return sum(self.cpu_s) * 1000 / max(1, self.finished)

    @property
    def max_batch(self) -> int:
        return VAULT_MAX_BATCH if self.spec.platform == "vault" else MAX_BATCH

    @property
    def upserts(self) -> list[ApiCall]:
        return [c for c in self.crm_calls if c.records and self.interaction_object in c.path]

    @property
    def records_per_upsert(self) -> float:
        upserts = self.upserts
        return sum(c.records for c in upserts) / len(upserts) if upserts else 0.0


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
    database_url: str, redis_url: str, world: World, spec: Spec, timeout: float, log_dir: Path
) -> Drain:
    env = worker_env(world, database_url, redis_url)

    async def run() -> Drain:
        engine = create_engine(database_url)
        try:
            stored = time.monotonic()
            await prepare(engine, world, spec.events)
            print(
                f"[delivery] {spec.label}: {spec.events:,} events stored in {time.monotonic() - stored:.1f} s",
                file=sys.stderr,
            )
            expected = spec.events * len(world.connections)
            for target in world.targets:
                if target.platform == "salesforce":
                    target.state.configure_faults(FaultSettings(latency_ms=spec.latency_ms))
            with ExitStack() as stack:
                procs = [
                    stack.enter_context(
                        process(worker_command(spec.variant), env, log_dir / f"worker-{spec.key}-{n}.log")
                    )
                    for n in range(spec.workers)
                ]
                await wait_for_heartbeats(engine, [p.pid for p in procs])
                idle = [memory_kib(p.pid)["VmHWM"] for p in procs]
                cpu0 = [cpu_seconds(p.pid) for p in procs]
                for target in world.targets:
                    target.state.calls.clear()
                world.vault.calls.clear()
                queue = ArqQueue(redis_url)
                started_at = utcnow()
                await queue.enqueue("process_inbox", job_id=f"process_inbox:bench:{uuid.uuid4().hex[:6]}")
                await queue.close()
                deadline = time.monotonic() + timeout
                notes: list[str] = []
                while True:
                    waiting, open_, statuses = await progress(engine)
                    if not waiting and not open_ and sum(statuses.values()) >= expected:
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
            for target in world.targets:
                if target.platform == "salesforce":
                    target.state.configure_faults(FaultSettings())  # the raw row runs without latency
            finished = sum(v for k, v in statuses.items() if k not in OPEN)
            if statuses.get("delivered", 0) != expected:
                notes.append(
                    "not all delivered: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
                )
            return Drain(
                spec,
                seconds,
                planned,
                finished,
                statuses,
                [c for t in world.targets for c in t.calls],
                list(world.vault.calls.calls),
                idle,
                peak,
                cpu,
                crm_names_for(world.connections[0]).interaction.object,
                notes,
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


# ---- webhook to target write, under light load -------------------------------------------------------------


@dataclass
class Latency:
    sent: int
    interval_ms: float
    ms: list[float]  # webhook to record in the Salesforce org, one per timed webhook that arrived
    answers: dict[int, int]
    upserts: list[int]  # records carried by each interaction upsert during the timed webhooks
    notes: list[str] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        if not self.ms:
            return 0.0
        if len(self.ms) == 1:
            return self.ms[0]
        return statistics.quantiles(self.ms, n=100, method="inclusive")[round(q * 100) - 1]


def light_load(
    database_url: str, redis_url: str, world: World, count: int, interval_s: float, log_dir: Path
) -> Latency:
    """`bridge serve` + one `bridge worker`; `count` signed webhooks, one every `interval_s`, each timed from
    just before its POST to its interaction appearing in the org (the simulator runs in this process)."""
    env = worker_env(world, database_url, redis_url)

    async def run() -> Latency:
        engine = create_engine(database_url)
        try:
            await prepare(engine, world, 0)
            names = crm_names_for(world.connections[0]).interaction
            port = free_port()
            with ExitStack() as stack:
                api = stack.enter_context(process(bridge_args(port, 1), env, log_dir / "serve-light.log"))
                worker = stack.enter_context(process(worker_command(None), env, log_dir / "worker-light.log"))
                await asyncio.to_thread(wait_http, f"http://{LOOPBACK}:{port}/healthz", 60, api)
                await wait_for_heartbeats(engine, [worker.pid])
                seen: dict[str, float] = {}
                sent_at: dict[str, float] = {}
                answers: dict[int, int] = {}
                stop = asyncio.Event()

                async def watch() -> None:
                    while not stop.is_set():
                        try:
                            records = world.sf.list_records(names.object)
                        except RuntimeError:  # the server thread changed the store mid-read: look again
                            records = []
                        now = time.perf_counter()
                        for record in records:
                            key = record.get(names.external_id)
                            if key and key not in seen:
                                seen[key] = now
                        await asyncio.sleep(0.002)

                async def send(http: httpx.AsyncClient, n: int) -> str:
                    document = activity_event(
                        n,
                        person_id=world.persons[n % len(world.persons)],
                        study_id=world.study,
                        site_id=world.site,
                        created_by=world.creator,
                    )
                    body = orjson.dumps(document)
                    headers = signed_headers(CTMS_SECRET, f"msg_light_{n:010d}", int(time.time()), body)
                    key = str(document["data"]["id"])
                    sent_at[key] = time.perf_counter()
                    answer = await http.post(
                        f"http://{LOOPBACK}:{port}/webhooks/ctms", content=body, headers=headers
                    )
                    answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
                    return key

                async def arrived(keys: list[str], within: float) -> bool:
                    deadline = time.monotonic() + within
                    while time.monotonic() < deadline:
                        if all(k in seen for k in keys):
                            return True
                        await asyncio.sleep(0.01)
                    return False

                notes: list[str] = []
                watcher = asyncio.create_task(watch())
                async with httpx.AsyncClient(timeout=10.0) as http:
                    warm = [await send(http, LIGHT_FIRST + n) for n in range(LIGHT_WARMUP)]
                    if not await arrived(warm, 30.0):
                        notes.append("the warm-up webhooks did not arrive within 30 s")
                    answers.clear()
                    world.sf.calls.clear()
                    timed: list[asyncio.Task[str]] = []
                    tick = time.perf_counter()
                    for n in range(count):  # open loop: the next POST does not wait for the last one
                        timed.append(asyncio.create_task(send(http, LIGHT_FIRST + LIGHT_WARMUP + n)))
                        tick += interval_s
                        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
                    keys = list(await asyncio.gather(*timed))
                    if not await arrived(keys, 30.0):
                        notes.append(f"{sum(k not in seen for k in keys)} webhooks not written within 30 s")
                stop.set()
                await watcher
            ms = sorted((seen[k] - sent_at[k]) * 1000 for k in keys if k in seen)
            if set(answers) - {202}:
                notes.append("answers: " + ", ".join(f"{s} ×{c}" for s, c in sorted(answers.items())))
            upserts = [c.records for c in world.sf.calls.calls if c.records and names.object in c.path]
            return Latency(count, interval_s * 1000, ms, answers, upserts, notes)
        finally:
            await engine.dispose()

    return asyncio.run(run())


# ---- the simulator's raw throughput ------------------------------------------------------------------------


def raw_records(world: World, count: int) -> tuple[str, str, list[dict[str, Any]]]:
    """The records the bridge wrote (its fields only), under new external ids: what the raw row sends."""
    names = crm_names_for(world.connections[0]).interaction
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
        seconds = pool.submit(
            raw_upserts, world.targets[0].url, client_id, object_name, id_field, records
        ).result(timeout=300)
    return count / seconds


# ---- report ----------------------------------------------------------------------------------------------


def report(drains: list[Drain], raw_rate: float, raw_count: int, light: Latency | None) -> str:
    lines = [
        "## Delivery: stored CTMS activity events -> CRM connections (simulators as servers)",
        "end to end = from the wake-up to the last delivery finished (planning + delivery); a record = one "
        "event delivered to one connection; calls counted by the simulators; RSS = worker VmHWM; CPU = "
        "worker processes' CPU seconds during the drain",
        "",
    ]
    headers = [
        "row",
        "records",
        "records/s",
        "seconds",
        "all planned at s",
        "records/upsert call",
        "CRM calls/1k records",
        "CTMS calls/1k events",
        "worker CPU ms/record",
        "peak RSS MiB (at start)",
        "RSS growth MiB/10k events",
        "notes",
    ]
    rows: list[list[object]] = []
    for d in drains:
        upserts = d.upserts
        full = sum(1 for c in upserts if c.records == d.max_batch)
        growth = (
            sum(p - i for p, i in zip(d.rss_peak_kib, d.rss_idle_kib, strict=False))
            / MIB
            / len(d.rss_peak_kib)
            if d.rss_peak_kib
            else 0.0
        )
        rows.append(
            [
                d.label,
                d.finished,
                round(d.rate),
                d.seconds,
                d.planned_s,
                f"{d.records_per_upsert:.1f} ({full}/{len(upserts)} full)",
                len(d.crm_calls) * 1000 / max(1, d.finished),
                len(d.vault_calls) * 1000 / max(1, d.spec.events),
                d.cpu_ms_per_record,
                " + ".join(
                    f"{p / MIB:.0f} ({i / MIB:.0f})"
                    for p, i in zip(d.rss_peak_kib, d.rss_idle_kib, strict=False)
                ),
                growth * 10_000 / max(1, d.spec.events),
                "; ".join(d.notes),
            ]
        )
    if raw_rate:
        rows.append(
            [
                "raw SalesforceClient.upsert, 200/call",
                raw_count,
                round(raw_rate),
                raw_count / raw_rate,
                "",
                "200.0",
                5.0,
                "",
                "",
                "",
                "",
                "sequential calls, separate process, no added latency",
            ]
        )
    lines.append(table(headers, rows))
    lines.append("")
    if light is not None:
        lines.append(
            "light load: `bridge serve` + 1 `bridge worker`, one signed webhook every "
            f"{light.interval_ms:.0f} ms (after {LIGHT_WARMUP} untimed), each timed from just before its POST "
            "to its interaction in the Salesforce org"
        )
        lines.append(
            table(
                [
                    "row",
                    "webhooks",
                    "written",
                    "p50 ms",
                    "p95 ms",
                    "max ms",
                    "upsert calls (records/call)",
                    "notes",
                ],
                [
                    [
                        "webhook -> Salesforce write",
                        light.sent,
                        len(light.ms),
                        light.quantile(0.50),
                        light.quantile(0.95),
                        max(light.ms, default=0.0),
                        f"{len(light.upserts)} ({sum(light.upserts) / max(1, len(light.upserts)):.1f})",
                        "; ".join(light.notes),
                    ]
                ],
            )
        )
        lines.append("")
    lines.append(table(["ratio", "value"], ratio_rows(drains, raw_rate)))
    lines.append("")
    lines.append(table(["issue 11 figure", "measured", "target", "met"], issue_rows(drains, light)))
    lines.append("")
    for d in drains:
        by_kind: dict[str, int] = {}
        for c in d.crm_calls + d.vault_calls:
            key = f"{c.method} {_shape(c.path)}"
            by_kind[key] = by_kind.get(key, 0) + 1
        lines.append(
            f"calls, {d.label}: "
            + ", ".join(f"{k} ×{v}" for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1]))
        )
        lines.append(f"upsert sizes in order, {d.label}: {_runs([c.records for c in d.upserts])}")
    return "\n".join(lines)


def ratio_rows(drains: list[Drain], raw_rate: float) -> list[list[object]]:
    by = {d.spec.key: d for d in drains}
    out: list[list[object]] = []
    for d in drains:
        if d.spec.platform == "salesforce" and not d.spec.latency_ms and raw_rate:
            out.append([f"{d.label} / raw simulator (records/s)", ratio(d.rate, raw_rate)])
    pairs = [
        ("workers2", "workers1", "records/s"),
        ("latency", "workers1", "records/s"),
        ("latency_one_call", "latency", "records/s"),
        ("latency_eight", "latency", "records/s"),
        ("latency", "latency_no_turns", "records/s"),
    ]
    for a, b, what in pairs:
        if a in by and b in by:
            out.append([f"{by[a].label} / {by[b].label} ({what})", ratio(by[a].rate, by[b].rate)])
    if "fanout" in by and "fanout1" in by:
        many, one = by["fanout"], by["fanout1"]
        out.append([f"{many.label} / {one.label} (wall time)", ratio(many.seconds, one.seconds)])
        out.append(
            [
                f"{many.label} / {one.label} (worker CPU per record)",
                ratio(many.cpu_ms_per_record, one.cpu_ms_per_record),
            ]
        )
    for d in drains:
        if d.spec.key.startswith("variant:") and "workers1" in by:
            out.append([f"{d.label} / without (records/s)", ratio(d.rate, by["workers1"].rate)])
    return out


def issue_rows(drains: list[Drain], light: Latency | None) -> list[list[object]]:
    """Each "done" figure of issue 11: the measured value next to its target ("" where it has none)."""
    by = {d.spec.key: d for d in drains}
    rows: list[list[object]] = []

    def met(ok: bool) -> str:
        return "yes" if ok else "NO"

    if base := by.get("workers1"):
        events = f"{base.spec.events:,} events, 1 worker"
        rows.append([f"1. drain {events}: records/s end to end", round(base.rate), "", ""])
        rows.append([f"1. drain {events}: worker CPU ms/event", base.cpu_ms_per_record, "", ""])
        rows.append(
            [f"1. drain {events}: records per Salesforce upsert call", base.records_per_upsert, "", ""]
        )
    if slow := by.get("latency"):
        rows.append(
            [
                f"2. records/s, SF +{slow.spec.latency_ms:.0f} ms/call, 1 connection",
                round(slow.rate),
                ">= 1,500",
                met(slow.rate >= 1500),
            ]
        )
    if one := by.get("latency_one_call"):
        rows.append(["2. the same, one call in flight (comparison)", round(one.rate), "", ""])
    if eight := by.get("latency_eight"):
        rows.append(["2. the same, eight calls in flight (comparison)", round(eight.rate), "", ""])
    if "workers2" in by and "workers1" in by:
        rows.append(
            ["3. 2 workers / 1 worker (records/s)", ratio(by["workers2"].rate, by["workers1"].rate), "", ""]
        )
    if light is not None:
        p95 = light.quantile(0.95)
        rows.append(
            [
                "4. light load, webhook -> SF write p50 / p95 / max ms",
                f"{light.quantile(0.50):.0f} / {p95:.0f} / {max(light.ms, default=0.0):.0f}",
                "p95 <= 250",
                met(bool(light.ms) and len(light.ms) == light.sent and p95 <= 250),
            ]
        )
    if backlog := by.get("backlog"):
        peak_mb = max(backlog.rss_peak_kib, default=0) / MIB / MB_IN_MIB
        rows.append(
            [
                f"5. backlog {backlog.spec.events:,} events: worker peak RSS (VmHWM) MB",
                peak_mb,
                "<= 250",
                met(bool(backlog.rss_peak_kib) and peak_mb <= 250 and not backlog.notes),
            ]
        )
    else:
        rows.append(["5. backlog: worker peak RSS (VmHWM) MB", "not run", "<= 250", "(--backlog 100000)"])
    if "fanout" in by and "fanout1" in by:
        many, one = by["fanout"], by["fanout1"]
        wall = many.seconds / one.seconds if one.seconds else 0.0
        rows.append(
            [
                f"6. fan-out {many.spec.events:,} events, {many.spec.orgs} connections / 1: wall time",
                ratio(many.seconds, one.seconds),
                "<= 10×",
                met(0 < wall <= 10 and not many.notes),
            ]
        )
        rows.append(
            [
                f"6. fan-out: worker CPU ms per event-connection ({many.spec.orgs} / 1)",
                f"{many.cpu_ms_per_record:.2f} / {one.cpu_ms_per_record:.2f}",
                "",
                "",
            ]
        )
    if crm := by.get("vault_crm"):
        rows.append(
            [
                "Vault CRM: records per Vault upsert call",
                crm.records_per_upsert,
                ">= 450",
                met(crm.records_per_upsert >= 450),
            ]
        )
    return rows


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


def specs(args: argparse.Namespace) -> list[Spec]:
    """The drain rows of one run, in order."""
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    out = [Spec(f"workers{w}", args.events, workers=w) for w in workers]
    if args.latency_ms:
        slow = Spec("latency", args.events, latency_ms=args.latency_ms)
        out += [
            slow,
            replace(slow, key="latency_one_call", variant="one_call_in_flight"),
            replace(slow, key="latency_eight", variant="eight_in_flight"),
            replace(slow, key="latency_no_turns", variant="no_batch_turns"),
        ]
    if args.fanout:
        out += [
            Spec("fanout1", args.fanout_events),
            Spec("fanout", args.fanout_events, orgs=args.fanout),
        ]
    if args.vault_crm_events:
        out.append(Spec("vault_crm", args.vault_crm_events, platform="vault"))
    if args.variants:
        out += [Spec(f"variant:{name}", args.events, variant=name) for name in WORKER_VARIANTS]
    if args.backlog:
        out.append(Spec("backlog", args.backlog))
    return out


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description="Delivery benchmark (bench/README.md)")
    parser.add_argument("--events", type=int, default=10_000, help="events in each drain's backlog")
    parser.add_argument("--workers", default="1,2", help="worker process counts to run ('' for none)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per 10,000 records")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=250.0,
        help="added to every Salesforce call in the latency rows (0 skips)",
    )
    parser.add_argument(
        "--light", type=int, default=40, help="timed webhooks of the light-load row (0 skips)"
    )
    parser.add_argument(
        "--light-interval-ms", type=float, default=250.0, help="between two light-load webhooks"
    )
    parser.add_argument("--fanout", type=int, default=10, help="connections of the fan-out row (0 skips)")
    parser.add_argument("--fanout-events", type=int, default=2_000, help="events of the two fan-out rows")
    parser.add_argument(
        "--vault-crm-events", type=int, default=10_000, help="events of the Vault CRM row (0 skips)"
    )
    parser.add_argument(
        "--backlog", type=int, default=0, help="events of the memory row, e.g. 100000 (0 skips)"
    )
    parser.add_argument(
        "--log-dir", type=Path, help="keep the bridge processes' logs here (default: a temp dir)"
    )
    parser.add_argument(
        "--variants", action="store_true", help="also run each bench/variants.py worker variant (1 worker)"
    )
    args = parser.parse_args(argv)
    drains: list[Drain] = []
    raw_rate, raw_count, light = 0.0, 0, None
    with ExitStack() as outer:
        tmp = args.log_dir or Path(outer.enter_context(tempfile.TemporaryDirectory(prefix="bench-delivery-")))
        tmp.mkdir(parents=True, exist_ok=True)
        database_url = outer.enter_context(bench_database())
        redis_url = outer.enter_context(redis_database())
        if args.light:
            with ExitStack() as stack:
                world = build_world(stack)
                light = light_load(
                    database_url, redis_url, world, args.light, args.light_interval_ms / 1000, tmp
                )
                print("[delivery] light load done", file=sys.stderr)
        for spec in specs(args):
            with ExitStack() as stack:
                world = build_world(stack, spec.orgs, spec.platform)
                limit = args.timeout * max(1.0, spec.events * spec.orgs / 10_000)
                result = drain(database_url, redis_url, world, spec, limit, tmp)
                drains.append(result)
                print(f"[delivery] {result.label} done", file=sys.stderr)
                if not raw_rate and spec.platform == "salesforce" and spec.orgs == 1:
                    raw_rate, raw_count = raw_row(world, spec.events), spec.events
    text_ = report(drains, raw_rate, raw_count, light)
    print(text_)
    return text_


if __name__ == "__main__":
    print(machine() + "\n")
    main()
