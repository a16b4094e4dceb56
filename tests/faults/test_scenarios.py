"""Each scenario: events sent, a fault injected, then 0 lost and 0 duplicated checked in the simulated
CRM; the figures (rewritten records, recovery time) are printed for the README's Reliability section."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.simulators.common.faults import FaultSettings
from tests.e2e.conftest import delivery_rows, deployment
from tests.e2e.harness import World, interactions, simulated_world
from tests.e2e.test_delivery_guarantees import _seed, activity_event, post, settled, upserted_records
from tests.faults.conftest import FULL
from tests.processes import PrivateRedis, eventually, worker_env, worker_process

EVENTS = 1000 if FULL else 150


def report(name: str, world: World, events: int, faults: str, recovery: float) -> tuple[int, int]:
    ids = [r["Vault_Activity_ID_vod__c"] for r in interactions(world.orgs[0])]
    lost, duplicated = events - len(set(ids)), len(ids) - len(set(ids))
    rewritten = upserted_records(world) - len(set(ids))
    print(  # noqa: T201 - the suite's figures, read by scripts/faults
        f"FAULTS {name}: events={events} faults={faults} lost={lost} duplicated={duplicated}"
        f" rewritten={rewritten} recovery_s={recovery:.1f}"
    )
    return lost, duplicated


async def _send(client: httpx.AsyncClient, world: World, ids: range, person: str, study: str) -> None:
    for start in range(ids.start, ids.stop, 25):
        chunk = range(start, min(start + 25, ids.stop))
        await asyncio.gather(
            *(post(client, world, activity_event(f"V6A{n:012d}", person, study)) for n in chunk)
        )


async def test_worker_sigkilled_five_times_mid_run(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    """Five rounds: a worker takes a fifth of the events and is SIGKILLed while it holds deliveries in
    flight (calls take 300 ms, so it always does); a last worker takes over once the leases run out.
    Nothing is lost or duplicated, and what is written twice is at most what was in flight at a kill
    (at least once, never a whole backlog again)."""
    with simulated_world() as world:
        await world.connect(clean_db, world.orgs[0], sync_studies_and_sites=False)
        env = {"BRIDGE_LEASE_SECONDS": "3", "BRIDGE_WORKER_METRICS_PORT": "0"}
        async with (
            deployment(world, clean_db, pg_url, redis_url, workers=0, **env),
            httpx.AsyncClient() as client,
        ):
            person, study = await _seed(world)
            world.orgs[0].state.configure_faults(FaultSettings(latency_ms=300))
            worker_settings = worker_env(pg_url, redis_url, **{**world.worker_env(), **env})
            share, unrecorded = EVENTS // 5, 0
            for n in range(5):
                with worker_process(worker_settings) as victim:

                    async def held(pid: int = victim.pid) -> list[Any]:
                        rows = await delivery_rows(clean_db, "status = 'in_flight'")
                        return [r for r in rows if r["lease_owner"].split(":")[1] == str(pid)]

                    await _send(client, world, range(n * share, (n + 1) * share), person, study)
                    await eventually(held, timeout=30)  # the kill must land on work in flight
                    os.kill(victim.pid, signal.SIGKILL)
                    victim.wait(10)
                    unrecorded += len(await held())  # in flight when it died: outcome never recorded
            killed = time.monotonic()
            with worker_process(worker_settings):
                await settled(clean_db, EVENTS)
            recovery = time.monotonic() - killed
        lost, duplicated = report("worker SIGKILL x5", world, EVENTS, "5 SIGKILL", recovery)
        assert (lost, duplicated) == (0, 0)
        assert unrecorded > 0
        assert upserted_records(world) - EVENTS <= unrecorded  # rewritten: only what was in flight


async def test_redis_flushall_mid_run(clean_db: AsyncEngine, pg_url: str, redis_url: str) -> None:
    with simulated_world() as world:
        await world.connect(clean_db, world.orgs[0], sync_studies_and_sites=False)
        async with deployment(world, clean_db, pg_url, redis_url), httpx.AsyncClient() as client:
            person, study = await _seed(world)
            world.orgs[0].state.configure_faults(FaultSettings(latency_ms=200))
            await _send(client, world, range(EVENTS // 2), person, study)
            redis = Redis.from_url(redis_url)
            await redis.flushdb()  # FLUSHALL on our own database: the shared server serves others
            await redis.aclose()
            flushed = time.monotonic()
            await _send(client, world, range(EVENTS // 2, EVENTS), person, study)
            await settled(clean_db, EVENTS)
            recovery = time.monotonic() - flushed
        lost, duplicated = report("Redis FLUSHALL", world, EVENTS, "1 flush", recovery)
        assert (lost, duplicated) == (0, 0)


async def test_redis_down(clean_db: AsyncEngine, pg_url: str) -> None:
    outage = 30.0 if FULL else 8.0
    with PrivateRedis() as redis, simulated_world() as world:
        await world.connect(clean_db, world.orgs[0], sync_studies_and_sites=False)
        async with (
            deployment(world, clean_db, pg_url, redis.url) as workers,
            httpx.AsyncClient() as client,
        ):
            person, study = await _seed(world)
            await _send(client, world, range(EVENTS // 3), person, study)
            redis.stop()
            stopped = time.monotonic()
            await _send(client, world, range(EVENTS // 3, 2 * EVENTS // 3), person, study)
            await asyncio.sleep(max(0.0, outage - (time.monotonic() - stopped)))  # the outage itself
            redis.start()
            back = time.monotonic()
            await _send(client, world, range(2 * EVENTS // 3, EVENTS), person, study)
            await settled(clean_db, EVENTS)
            recovery = time.monotonic() - back
            assert all(w.poll() is None for w in workers), "a worker needed a manual restart"
        lost, duplicated = report(f"Redis down {outage:.0f} s", world, EVENTS, "1 outage", recovery)
        assert (lost, duplicated) == (0, 0)


async def test_server_errors_rate_limits_and_session_expiry(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org, sync_studies_and_sites=False)
        # No setting to raise: the retry horizon (72 h by default) rides out the storm by time.
        fast = {"BRIDGE_RETRY_BASE_SECONDS": "0.2", "BRIDGE_RETRY_CAP_SECONDS": "2"}
        async with deployment(world, clean_db, pg_url, redis_url, **fast), httpx.AsyncClient() as client:
            person, study = await _seed(world)
            org.state.configure_faults(
                FaultSettings(
                    error_rate=0.3, rate_limit_burst=2, rate_limit_every=6, retry_after_seconds=0.5, seed=7
                ),
                rate_limit_status=429,
            )
            await _send(client, world, range(EVENTS // 2), person, study)
            org.state.expire_tokens()
            await _send(client, world, range(EVENTS // 2, EVENTS), person, study)
            started = time.monotonic()
            await settled(clean_db, EVENTS)
            recovery = time.monotonic() - started
        faulted = sum(1 for c in org.state.calls.calls if c.fault != "none")
        lost, duplicated = report("30% 5xx + 429 + expiry", world, EVENTS, f"{faulted} calls", recovery)
        assert faulted > 0
        assert (lost, duplicated) == (0, 0)


async def test_ten_deliveries_of_every_webhook_shuffled_updates_reversed(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    records = EVENTS // 10
    with simulated_world() as world:
        await world.connect(clean_db, world.orgs[0], sync_studies_and_sites=False)
        async with deployment(world, clean_db, pg_url, redis_url), httpx.AsyncClient() as client:
            person, study = await _seed(world)
            sends: list[tuple[dict[str, Any], str]] = []
            for n in range(records):
                for version in (1, 2):  # two versions of each record; the older one sent last
                    event = activity_event(
                        f"V6A{n:012d}",
                        person,
                        study,
                        modified=f"2026-11-20T10:0{version}:00.000Z",
                        subject=f"v{version}",
                    )
                    sends += [(event, f"msg_{n}_{version}")] * 10
            random.Random(5).shuffle(sends)
            sends.sort(key=lambda s: -int(s[1].rsplit("_", 1)[1]))  # every newer version before the older
            started = time.monotonic()
            for start in range(0, len(sends), 25):
                await asyncio.gather(
                    *(post(client, world, e, msg_id=m) for e, m in sends[start : start + 25])
                )
            await settled(clean_db, 2 * records)
            recovery = time.monotonic() - started
        lost, duplicated = report(
            "10x every webhook, reversed", world, records, f"{len(sends)} posts", recovery
        )
        assert (lost, duplicated) == (0, 0)
        assert {r["Subject_vod__c"] for r in interactions(world.orgs[0])} == {"v2"}
