"""Initial load (issue 16), in this process against the simulators as HTTP servers: what already exists
in both systems is read in pages, fed through the inbox, and delivered like any change; a load stopped
mid-way goes on from its first unsaved page; a record the bridge already wrote ends unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.models import utcnow
from app.repositories import initial_loads
from app.services.transfer.initial_load import request_load, run_load
from tests.e2e.harness import World, account, activity, interactions, person, site, study
from tests.e2e.test_transfer import send_call
from tests.services.test_pipeline import plan_and_drain, statuses

VAULT_QUERY = "/query"


def vault_queries(world: World) -> int:
    return len(world.vault.calls.matching("POST", VAULT_QUERY))


async def start(resources: Resources, **kw: Any) -> int:
    async with resources.sessionmaker() as session, session.begin():
        load = await request_load(session, "test", **kw)
    assert load.id is not None
    return load.id


async def load_row(resources: Resources, load_id: int) -> Any:
    async with resources.sessionmaker() as session:
        return await initial_loads.get(session, load_id)


def _stored_metric(source: str) -> float:
    value = REGISTRY.get_sample_value(
        "bridge_initial_load_records_total", {"source": source, "outcome": "stored"}
    )
    return value or 0.0


def existing_world(world: World, activities: int) -> tuple[str, list[str]]:
    person_id = person(world.vault, "HCP-1")
    study_id = study(world.vault)
    sites = [site(world.vault, study_id, name=f"Site {n}") for n in range(3)]
    for n in range(activities):
        activity(world.vault, person_id, study_id, site__v=sites[n % 3], subject__v=f"visit {n}")
    return study_id, sites


async def test_a_load_feeds_everything_that_exists_and_delivery_writes_it_parents_first(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    existing_world(world, 2_100)  # three pages of activities (1,000 a page), many created in the same ms
    account_id = account(org, "HCP-1")
    for n in range(3):
        send_call(org, account_id, f"call {n}")
    await world.connect(clean_db, org)  # a connection made after the records: catch-up would not see them

    stored_before = _stored_metric("ctms/crm_activity__v")
    load_id = await start(resources)
    assert await run_load(resources, load_id) == "succeeded"
    assert _stored_metric("ctms/crm_activity__v") - stored_before == 2_100

    load = await load_row(resources, load_id)
    cursors = load.cursors
    assert sorted(cursors, key=lambda k: cursors[k]["order"]) == [  # parents first
        "ctms:study__v",
        "ctms:site__v",
        "ctms:crm_activity__v",
        f"crm:{org.connection_id}:Call2_vod__c",
    ]
    activity_cursor = cursors["ctms:crm_activity__v"]
    assert (activity_cursor["read"], activity_cursor["stored"], activity_cursor["total"]) == (
        2_100,
        2_100,
        2_100,
    )
    assert activity_cursor["pages"] == 3
    assert activity_cursor["done"]
    assert (cursors["ctms:site__v"]["read"], cursors["ctms:study__v"]["read"]) == (3, 1)
    assert cursors[f"crm:{org.connection_id}:Call2_vod__c"]["read"] == 3
    assert vault_queries(world) == 3 + 1 + 1 + 3  # a count per object, then one query a page

    await plan_and_drain(resources)
    written = interactions(org)
    assert len(written) == 2_100
    assert sorted(r["Subject_vod__c"] for r in written) == sorted(f"visit {n}" for n in range(2_100))
    crm_studies = org.state.list_records("Clinical_Study_vod__c")
    crm_sites = org.state.list_records("Clinical_Site_vod__c")
    assert len(crm_studies) == 1
    assert len(crm_sites) == 3
    assert {r["Clinical_Study_vod__c"] for r in written} == {crm_studies[0]["Id"]}
    assert {r["Clinical_Site_vod__c"] for r in written} == {s["Id"] for s in crm_sites}
    medical = [
        r
        for r in world.vault.records_of("crm_activity__v")
        if world.vault.object_type_name("crm_activity__v", r.get("object_type__v")) == "medical_activity__v"
    ]
    assert sorted(str(r["subject__v"]) for r in medical) == ["call 0", "call 1", "call 2"]

    # a second load of the same world stores new events (its own) but writes nothing: content unchanged
    writes_before = len(org.state.calls.matching("PATCH"))
    second = await start(resources)
    assert await run_load(resources, second) == "succeeded"
    await plan_and_drain(resources)
    assert len(org.state.calls.matching("PATCH")) == writes_before
    async with resources.sessionmaker() as session:
        outcome = await initial_loads.outcome_counts(
            session, await load_row(resources, second), f"load:{second}:"
        )
    # CRM-side content the bridge wrote is unchanged; a call is upserted again onto its own Medical Activity
    # (that flow keeps no content hash), which creates nothing new
    assert outcome["deliveries"] == {"unchanged": 2_100 + 1 + 3, "delivered": 3}
    assert (
        len(
            [
                r
                for r in world.vault.records_of("crm_activity__v")
                if r.get("subject__v", "").startswith("call ")
            ]
        )
        == 3
    )


async def test_a_load_stopped_mid_way_goes_on_from_its_first_unsaved_page(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    existing_world(world, 3_500)  # four pages of activities
    account(org, "HCP-1")
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    load_id = await start(resources)

    async def two_pages_saved() -> None:
        while True:
            load = await load_row(resources, load_id)
            if (load.cursors.get("ctms:crm_activity__v") or {}).get("pages", 0) >= 2:
                return
            await asyncio.sleep(0.01)

    running = asyncio.create_task(run_load(resources, load_id))
    await asyncio.wait_for(two_pages_saved(), timeout=30)
    mid = await load_row(resources, load_id)  # every source counted before the first page: a whole to show
    assert {k: c["total"] for k, c in mid.cursors.items()} == {
        "ctms:crm_activity__v": 3_500,
        f"crm:{org.connection_id}:Call2_vod__c": 0,
    }
    running.cancel()  # the worker dies: no finish, the claim stays until its heartbeat is old
    await asyncio.gather(running, return_exceptions=True)
    queries_before = vault_queries(world)

    assert await run_load(resources, load_id) is None  # its holder's claim is still fresh
    async with resources.sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE initial_loads SET heartbeat_at = :t"), {"t": utcnow().replace(year=2000)}
        )
    assert await run_load(resources, load_id) == "succeeded"

    load = await load_row(resources, load_id)
    cursor = load.cursors["ctms:crm_activity__v"]
    assert (cursor["read"], cursor["stored"]) == (3_500, 3_500)  # each record once: no page saved twice
    # the resumed run read only the pages not yet saved (one may have been in flight when it stopped)
    assert vault_queries(world) - queries_before in (4 - 2, 4 - 2 + 1)
    async with clean_db.connect() as conn:
        stored = await conn.scalar(
            text("SELECT count(*) FROM inbox_events WHERE webhook_id LIKE :p"), {"p": f"load:{load_id}:%"}
        )
    assert stored == 3_500
    await plan_and_drain(resources)
    assert len(interactions(org)) == 3_500
    assert set(await statuses(clean_db)) == {"delivered"}
