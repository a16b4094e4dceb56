"""Issue 16: an initial load of 10,000 records that existed before the connection, with real workers,
one of them killed mid-load: the load resumes on the other and everything arrives, parents first."""

from __future__ import annotations

import os
import signal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.services.transfer.initial_load import JOB, job_id, request_load
from app.simulators.common.faults import FaultSettings
from app.worker.queue import ArqQueue
from tests.e2e.conftest import deployment
from tests.e2e.harness import account, activity, interactions, person, simulated_world, site, study
from tests.processes import eventually

SITES = 9
ACTIVITIES = 10_000 - 1 - SITES  # with one study: 10,000 records


async def load_row(engine: AsyncEngine, load_id: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            (await conn.execute(text("SELECT * FROM initial_loads WHERE id = :i"), {"i": load_id}))
            .mappings()
            .one()
        )
        return dict(row)


async def test_a_load_of_10000_existing_records_survives_a_killed_worker_and_arrives_complete(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    with simulated_world() as world:
        org = world.orgs[0]
        person_id = person(world.vault, "HCP-1")
        account(org, "HCP-1")
        study_id = study(world.vault)
        sites = [site(world.vault, study_id, name=f"Site {n}") for n in range(SITES)]
        for n in range(ACTIVITIES):
            activity(world.vault, person_id, study_id, site__v=sites[n % SITES], subject__v=f"visit {n}")
        await world.connect(clean_db, org)
        env = {"BRIDGE_LEASE_SECONDS": "3", "BRIDGE_TRANSFER_INTERVAL_SECONDS": "3600"}
        async with deployment(world, clean_db, pg_url, redis_url, workers=2, **env) as workers:
            world.vault.faults.configure(FaultSettings(latency_ms=400))  # pages slow enough to be caught
            async with AsyncSession(clean_db, expire_on_commit=False) as session, session.begin():
                load = await request_load(session, "test")
            queue = ArqQueue(redis_url)
            try:
                await queue.enqueue(JOB, load.id, job_id=job_id(load))
            finally:
                await queue.close()

            def mid_load(row: dict[str, Any]) -> bool:
                cursor = (row["cursors"] or {}).get("ctms:crm_activity__v") or {}
                return cursor.get("pages", 0) >= 3 and row["holder"] is not None

            assert load.id is not None
            row = await eventually(lambda: load_row(clean_db, load.id), mid_load, timeout=120)
            assert row["status"] == "running"
            assert not row["cursors"]["ctms:crm_activity__v"]["done"]  # so only another worker can finish it
            holder_pid = int(str(row["holder"]).split(":")[0])
            assert holder_pid in {w.pid for w in workers}
            os.kill(holder_pid, signal.SIGKILL)
            world.vault.faults.configure(FaultSettings())

            done = await eventually(
                lambda: load_row(clean_db, load.id), lambda r: r["status"] != "running", timeout=120
            )
            assert done["status"] == "succeeded", done["errors"]

            async def settled() -> list[Any]:
                async with clean_db.connect() as conn:
                    rows = await conn.execute(
                        text(
                            "SELECT d.status, count(*) AS n FROM deliveries d JOIN inbox_events e ON e.id = d.event_id"
                            " WHERE e.webhook_id LIKE :p GROUP BY d.status"
                        ),
                        {"p": f"load:{load.id}:%"},
                    )
                    return list(rows)

            counts = await eventually(
                settled,
                lambda rows: sum(r.n for r in rows) == 10_000 and {r.status for r in rows} == {"delivered"},
                timeout=240,
                interval=1.0,
            )
        assert sum(r.n for r in counts) == 10_000
        cursors = done["cursors"]
        activities = cursors["ctms:crm_activity__v"]
        # each saved page was read once: a page re-read after the kill would count its records twice
        assert (activities["read"], activities["stored"], activities["pages"]) == (ACTIVITIES, ACTIVITIES, 10)
        assert (cursors["ctms:site__v"]["read"], cursors["ctms:study__v"]["read"]) == (SITES, 1)

        written = interactions(org)
        assert len(written) == ACTIVITIES
        assert len({r["Vault_Activity_ID_vod__c"] for r in written}) == ACTIVITIES
        crm_sites = {s["Id"] for s in org.state.list_records("Clinical_Site_vod__c")}
        [crm_study] = org.state.list_records("Clinical_Study_vod__c")
        assert len(crm_sites) == SITES
        assert {r["Clinical_Site_vod__c"] for r in written} == crm_sites  # parents were there first
        assert {r["Clinical_Study_vod__c"] for r in written} == {crm_study["Id"]}
