"""PostgreSQL stopped (fast, then immediate) while CTMS webhooks pour in.

A 202 must mean a stored row, whatever happens to the database a moment later; while it is away the API
refuses with 503 and Retry-After (the sender, like any Standard Webhooks sender, sends again later);
once it is back every event is delivered once. The cluster is a private one (tests.processes): the
shared server on 5432 is never stopped.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine
from app.migrate import upgrade_to_head_async
from tests.conftest import TEST_CTMS_SECRET
from tests.e2e.conftest import deployment
from tests.e2e.harness import World, simulated_world
from tests.e2e.test_delivery_guarantees import _seed, activity_event, settled
from tests.factories import signed
from tests.faults.conftest import FULL
from tests.faults.test_scenarios import report
from tests.processes import PrivatePostgres

EVENTS = 1000 if FULL else 150
OUTAGE_SECONDS = 10.0 if FULL else 3.0


class Sender:
    """Posts each event until it is accepted, as a webhook sender retries; counts what it was told."""

    def __init__(self, client: httpx.AsyncClient, world: World) -> None:
        self.client, self.world = client, world
        self.accepted: set[str] = set()
        self.refusals = 0
        self.quarter_in = asyncio.Event()  # a quarter of the events accepted

    async def deliver(self, msg_id: str, event: dict[str, object]) -> None:
        body, headers = signed(TEST_CTMS_SECRET, event, msg_id=msg_id)
        deadline = time.monotonic() + 120
        while True:
            response = await self.client.post(
                f"{self.world.bridge_url}/webhooks/ctms", content=body, headers=headers, timeout=30
            )
            if response.status_code == 202:
                self.accepted.add(msg_id)
                if len(self.accepted) >= EVENTS // 4:
                    self.quarter_in.set()
                return
            # the only refusal allowed: the store is away, come back later
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "STORE_UNAVAILABLE", response.text
            assert int(response.headers["retry-after"]) > 0
            self.refusals += 1
            assert time.monotonic() < deadline, f"{msg_id} never accepted"
            await asyncio.sleep(0.2)  # sooner than Retry-After: the test has no 10 s to spare per event


async def _stored_webhook_ids(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT webhook_id FROM inbox_events WHERE sender = 'ctms'"))
        return {r[0] for r in rows}


# ~30 s each: the small suite (CI) takes the harsher one, --full both
@pytest.mark.parametrize("mode", ["fast", "immediate"] if FULL else ["immediate"])
async def test_postgres_stopped_mid_ingest_loses_nothing_accepted(mode: str, redis_url: str) -> None:
    with PrivatePostgres() as pg, simulated_world() as world:
        await upgrade_to_head_async(pg.url)
        engine = create_engine(pg.url)
        try:
            await world.connect(engine, world.orgs[0], sync_studies_and_sites=False)
            # deliveries claimed just before the stop stay in_flight until their lease ends (60 s by
            # default): a short lease, as in the SIGKILL scenario, keeps the run short
            env = {
                "BRIDGE_WORKER_RECONNECT_CAP_SECONDS": "1",
                "BRIDGE_WORKER_METRICS_PORT": "0",
                "BRIDGE_LEASE_SECONDS": "5",
            }
            async with deployment(world, engine, pg.url, redis_url, **env), httpx.AsyncClient() as client:
                person, study = await _seed(world)
                sender = Sender(client, world)
                events = [
                    (f"msg_pg_{n}", activity_event(f"V6A{n:012d}", person, study)) for n in range(EVENTS)
                ]

                stopped = asyncio.Event()

                async def ingest() -> None:
                    for start in range(0, EVENTS, 10):  # 10 concurrent senders
                        if start >= EVENTS // 2:  # however fast the ingest, its second half meets the outage
                            await stopped.wait()
                        await asyncio.gather(*(sender.deliver(m, e) for m, e in events[start : start + 10]))

                async def outage() -> float:
                    await sender.quarter_in.wait()  # well into the ingest, requests in flight
                    await asyncio.to_thread(pg.stop, mode)
                    stopped.set()
                    await asyncio.sleep(OUTAGE_SECONDS)
                    await asyncio.to_thread(pg.start)
                    return time.monotonic()

                ingesting = asyncio.create_task(ingest())
                back = await outage()
                await ingesting
                await engine.dispose()  # its pooled connections died with the server
                stored = await _stored_webhook_ids(engine)
                missing = sender.accepted - stored
                assert not missing, f"{len(missing)} events answered 202 but not stored"
                await settled(engine, EVENTS)
                recovery = time.monotonic() - back
        finally:
            await engine.dispose()
        print(f"FAULTS PostgreSQL stop -m {mode}: refusals={sender.refusals} (each 503 + Retry-After)")  # noqa: T201
        lost, duplicated = report(f"PostgreSQL stop -m {mode}", world, EVENTS, "1 stop", recovery)
        assert sender.refusals > 0, "the outage never met the ingest: nothing was tested"
        assert (lost, duplicated) == (0, 0)
