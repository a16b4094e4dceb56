"""Each scenario: events sent, a fault injected, then 0 lost and 0 duplicated checked in the simulated
CRM; the figures (rewritten records, recovery time) are printed for the README's Reliability section."""

from __future__ import annotations

import asyncio
import contextlib
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
    with simulated_world() as world:
        await world.connect(clean_db, world.orgs[0], sync_studies_and_sites=False)
        env = {"BRIDGE_LEASE_SECONDS": "3", "BRIDGE_WORKER_METRICS_PORT": "0"}
        async with deployment(world, clean_db, pg_url, redis_url, **env), httpx.AsyncClient() as client:
            person, study = await _seed(world)
            world.orgs[0].state.configure_faults(FaultSettings(latency_ms=300))
            await _send(client, world, range(EVENTS), person, study)
            extra_env = worker_env(pg_url, redis_url, **{**world.worker_env(), **env})
            for _ in range(5):  # a second worker, killed while it holds deliveries
                with worker_process(extra_env) as victim:

                    async def holds(pid: int = victim.pid) -> bool:
                        rows = await delivery_rows(clean_db, "status = 'in_flight'")
                        return any(r["lease_owner"].split(":")[1] == str(pid) for r in rows)

                    # if the survivor took everything this round, kill it anyway
                    with contextlib.suppress(AssertionError):
                        await eventually(holds, timeout=20)
                    os.kill(victim.pid, signal.SIGKILL)
            killed = time.monotonic()
            await settled(clean_db, EVENTS)
            recovery = time.monotonic() - killed
        lost, duplicated = report("worker SIGKILL x5", world, EVENTS, "5 SIGKILL", recovery)
        assert (lost, duplicated) == (0, 0)


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
        # transient failures are retried for the retry horizon (72 h by default): no settings to change
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
