"""A real `bridge worker` rides out Redis and PostgreSQL outages (private servers, stopped and started
again), says so on its own port, and delivers everything accepted before and during the outage."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine
from app.migrate import upgrade_to_head_async
from tests.e2e.conftest import deployment
from tests.e2e.harness import interactions, simulated_world
from tests.e2e.test_delivery_guarantees import _seed, activity_event, post, settled
from tests.processes import PrivatePostgres, PrivateRedis, eventually, free_port


async def _readiness(port: int) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient() as client:
        try:
            response = await client.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
        except httpx.HTTPError:
            return 0, {}
        return response.status_code, response.json()


def _waiting_for(dependency: str) -> object:
    return lambda answer: answer[0] == 503 and answer[1].get("checks", {}).get(dependency) == "waiting"


async def _metric(port: int, line_start: str) -> float | None:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics", timeout=2)).text
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)]
    return values[0] if values else None


async def test_the_worker_waits_out_a_redis_outage_and_delivers_what_came_meanwhile(
    clean_db: AsyncEngine, pg_url: str
) -> None:
    port = free_port()
    with PrivateRedis() as redis, simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org, sync_studies_and_sites=False)
        env = {"BRIDGE_WORKER_METRICS_PORT": str(port), "BRIDGE_WORKER_RECONNECT_CAP_SECONDS": "1"}
        async with (
            deployment(world, clean_db, pg_url, redis.url, **env) as [worker],
            httpx.AsyncClient() as client,
        ):
            person_id, study_id = await _seed(world)
            for n in range(10):
                await post(client, world, activity_event(f"V6A{n:012d}", person_id, study_id))
            await settled(clean_db, 10)

            redis.stop()
            await eventually(lambda: _readiness(port), _waiting_for("redis"), timeout=15)  # type: ignore[arg-type]
            assert await _metric(port, 'bridge_worker_dependency_up{dependency="redis"}') == 0.0
            for n in range(10, 20):  # accepted (stored) while Redis is away
                await post(client, world, activity_event(f"V6A{n:012d}", person_id, study_id))
            # an outage well past the ~3 s that used to kill the worker for good
            await eventually(lambda: _readiness(port), lambda a: a[0] == 503, timeout=1)
            assert worker.poll() is None, "the worker exited while Redis was down"
            redis.start()

            for n in range(20, 30):
                await post(client, world, activity_event(f"V6A{n:012d}", person_id, study_id))
            rows = await settled(clean_db, 30)
            assert worker.poll() is None
            assert (await eventually(lambda: _readiness(port), lambda a: a[0] == 200, timeout=15))[0] == 200
            assert await _metric(port, 'bridge_worker_reconnects_total{dependency="redis"}') == 1.0
        assert {r["status"] for r in rows} == {"delivered"}
        ids = [r["Vault_Activity_ID_vod__c"] for r in interactions(org)]
        assert sorted(ids) == [f"V6A{n:012d}" for n in range(30)]


async def test_the_worker_waits_out_a_postgresql_outage_and_delivers_what_was_accepted(
    redis_url: str,
) -> None:
    port = free_port()
    with PrivatePostgres() as pg, simulated_world() as world:
        await upgrade_to_head_async(pg.url)
        engine = create_engine(pg.url)
        try:
            org = world.orgs[0]
            await world.connect(engine, org, sync_studies_and_sites=False)
            env = {
                "BRIDGE_WORKER_METRICS_PORT": str(port),
                "BRIDGE_WORKER_RECONNECT_CAP_SECONDS": "1",
                # work whose finish the stop cut off is taken back after 5 s, not the default 60 s
                "BRIDGE_LEASE_SECONDS": "5",
            }
            async with (
                deployment(world, engine, pg.url, redis_url, **env) as [worker],
                httpx.AsyncClient() as client,
            ):
                person_id, study_id = await _seed(world)
                for n in range(20):
                    await post(client, world, activity_event(f"V6A{n:012d}", person_id, study_id))
                pg.stop("fast")  # mid-delivery: some of the 20 are still on their way
                await engine.dispose()
                await eventually(lambda: _readiness(port), _waiting_for("database"), timeout=15)  # type: ignore[arg-type]
                assert await _metric(port, 'bridge_worker_dependency_up{dependency="database"}') == 0.0
                assert worker.poll() is None, "the worker exited while PostgreSQL was down"
                pg.start()
                for n in range(20, 30):
                    await post(client, world, activity_event(f"V6A{n:012d}", person_id, study_id))
                rows = await settled(engine, 30)
                assert worker.poll() is None
                await eventually(lambda: _readiness(port), lambda a: a[0] == 200, timeout=15)
        finally:
            await engine.dispose()
        assert {r["status"] for r in rows} == {"delivered"}
        ids = [r["Vault_Activity_ID_vod__c"] for r in interactions(org)]
        assert sorted(ids) == [f"V6A{n:012d}" for n in range(30)]


async def test_delivery_counters_counted_in_a_worker_are_scraped_from_its_port(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    port = free_port()
    with simulated_world() as world:
        await world.connect(clean_db, world.orgs[0], sync_studies_and_sites=False)
        env = {"BRIDGE_WORKER_METRICS_PORT": str(port)}
        async with deployment(world, clean_db, pg_url, redis_url, **env), httpx.AsyncClient() as client:
            person_id, study_id = await _seed(world)
            for n in range(7):
                await post(client, world, activity_event(f"V6A{n:012d}", person_id, study_id))
            await settled(clean_db, 7)
            # this worker process counted them: nothing else in this test run writes its registry
            delivered = await _metric(
                port, 'bridge_deliveries_total{direction="ctms_to_crm",outcome="delivered"}'
            )
            open_pending = await eventually(
                lambda: _metric(port, 'bridge_open_deliveries{status="pending"}'), lambda v: v == 0.0
            )
        assert delivered == 7.0
        assert open_pending == 0.0
