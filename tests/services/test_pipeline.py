"""The delivery pipeline driven in-process, step by step: store events, plan them, drain each lane.

No worker processes, no queue, no waiting: each test calls the planner and the lane drainer itself, so it
checks the engine's rules (newest change wins, a record's changes stay in one lane partition, parents go
first, one call per batch) deterministically. The simulators are real HTTP servers in this process.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clients.turns import let_go
from app.context import Resources
from app.domain.envelopes import validate_ctms
from app.domain.lanes import Lane
from app.services import intake, planning
from app.services.delivery import engine
from app.services.delivery.engine import drain_lane
from app.simulators.common.faults import FaultSettings
from app.worker.queue import InProcessQueue
from tests.conftest import make_settings
from tests.e2e.harness import World, account, activity, interactions, person, simulated_world, site, study
from tests.services.conftest import PARTITIONS

INTERACTIONS_PATH = "/composite/sobjects/Vault_Clinical_Interaction_vod__c"


def changed(record: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The CTMS event for a record as the vault sends it (the whole record in the event)."""
    record = {**record, **fields}
    return {
        "type": "ctms.record.updated",
        "timestamp": record["modified_date__v"],
        "data": {
            "object": "crm_activity__v",
            "id": record["id"],
            "modified_date__v": record["modified_date__v"],
            "record": record,
        },
    }


async def store(resources: Resources, *documents: dict[str, Any]) -> None:
    async with resources.sessionmaker() as session, session.begin():
        for n, document in enumerate(documents):
            fields = validate_ctms(document)
            await intake.store_event(
                session,
                source="ctms",
                sender="ctms",
                connection_id=None,
                webhook_id=f"msg_{fields.record_id}_{n}_{document['data']['modified_date__v']}",
                document=document,
                type_=fields.type,
                object_=fields.object,
                record_id=fields.record_id,
                source_modified_at=fields.source_modified_at,
            )


async def plan_and_drain(resources: Resources) -> set[str]:
    """Plan everything stored, then drain every lane that got work; the lanes drained."""
    lanes: set[str] = set()
    while True:
        async with resources.sessionmaker() as session, session.begin():
            result = await planning.plan_pending(session, partitions=PARTITIONS)
        lanes |= result.lanes
        if not result.events:
            break
    for lane in sorted(lanes):
        await drain_lane(resources, lane)
    return lanes


async def stored_activities(resources: Resources, world: World, engine: AsyncEngine, n: int) -> None:
    """`n` activities of one person, with an account in the (first) org, stored as the vault's events."""
    org = world.orgs[0]
    await world.connect(engine, org, sync_studies_and_sites=False)
    person_id = person(world.vault, "HCP-2")
    account(org, "HCP-2")
    study_id = study(world.vault)
    records = [activity(world.vault, person_id, study_id, subject__v=f"visit {i}") for i in range(n)]
    await store(resources, *(changed(r) for r in records))


async def statuses(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT status FROM deliveries ORDER BY id"))
        return [r.status for r in rows]


async def test_only_the_newest_change_of_a_record_is_written(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    person_id = person(world.vault, "HCP-1")
    account(org, "HCP-1")
    record = activity(world.vault, person_id, study(world.vault))
    modified = datetime.fromisoformat(record["modified_date__v"])

    def later(seconds: int) -> str:
        return (modified + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    await store(
        resources,
        changed(record, subject__v="first", modified_date__v=later(1)),
        changed(record, subject__v="third", modified_date__v=later(3)),
        changed(record, subject__v="second", modified_date__v=later(2)),
    )
    lanes = await plan_and_drain(resources)
    assert len(lanes) == 1  # one record: one lane partition, so its changes leave in order
    [interaction] = interactions(org)
    assert interaction["Subject_vod__c"] == "third"
    assert len(org.state.calls.matching("PATCH", INTERACTIONS_PATH)) == 1
    assert sorted(await statuses(clean_db)) == ["delivered", "stale", "stale"]


async def test_records_spread_over_the_partitions_and_each_partition_sends_one_call(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await stored_activities(resources, world, clean_db, 40)
    lanes = await plan_and_drain(resources)
    partitions = {Lane.parse(lane).partition for lane in lanes}
    assert len(partitions) == PARTITIONS  # 40 records: every partition gets some
    assert len(interactions(org)) == 40
    calls = org.state.calls.matching("PATCH", INTERACTIONS_PATH)
    assert len(calls) == PARTITIONS  # a partition's records leave together: a call per partition
    assert sum(c.records for c in calls) == 40
    assert set(await statuses(clean_db)) == {"delivered"}


async def test_the_study_and_site_are_written_before_the_activity_that_needs_them(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=True)
    person_id = person(world.vault, "HCP-3")
    account(org, "HCP-3")
    study_id = study(world.vault)
    site_id = site(world.vault, study_id)
    await store(resources, changed(activity(world.vault, person_id, study_id, site__v=site_id)))
    await plan_and_drain(resources)
    writes = [c.path for c in org.state.calls.calls if c.method == "PATCH"]
    order = [
        next(i for i, path in enumerate(writes) if name in path)
        for name in ("Clinical_Study_vod__c", "Clinical_Site_vod__c", "Vault_Clinical_Interaction_vod__c")
    ]
    assert order == sorted(order)
    [interaction] = interactions(org)
    assert interaction["Clinical_Study_vod__c"]
    assert interaction["Clinical_Site_vod__c"]


async def test_many_lanes_drained_at_once_never_run_the_connection_pool_dry(
    clean_db: AsyncEngine, pg_url: str
) -> None:
    """Each drain holds two pooled connections (its lock's and its work's). Forty drains at once in one
    process (ten connections × four partitions, within a worker's job slots) must all finish, instead of
    each holding a lock connection and waiting for a second one until the pool gives up."""
    with simulated_world(salesforce_orgs=10) as world:
        settings = make_settings(pg_url, connection_concurrency=PARTITIONS, **world.settings_values())
        resources = await Resources.open(settings, InProcessQueue({}))
        try:
            for org in world.orgs:
                await world.connect(clean_db, org, sync_studies_and_sites=False)
                account(org, "HCP-4")
            person_id = person(world.vault, "HCP-4")
            study_id = study(world.vault)
            records = [activity(world.vault, person_id, study_id, subject__v=f"call {n}") for n in range(40)]
            await store(resources, *(changed(r) for r in records))
            lanes: set[str] = set()
            async with resources.sessionmaker() as session, session.begin():
                lanes = (await planning.plan_pending(session, partitions=PARTITIONS)).lanes
            assert len(lanes) == 10 * PARTITIONS
            await asyncio.wait_for(asyncio.gather(*(drain_lane(resources, lane) for lane in lanes)), 60)
        finally:
            await resources.close()
        assert [len(interactions(org)) for org in world.orgs] == [40] * 10
        assert set(await statuses(clean_db)) == {"delivered"}


async def test_a_lane_waits_for_a_planner_that_is_behind_and_sends_one_full_call(
    resources: Resources, world: World, clean_db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backlog (an initial load, a catch-up) is planned a few hundred events at a time. A lane woken by
    the first of them waits while a full call's worth still waits to be planned, instead of sending a
    sliver and then the rest: API calls are what a Vault's burst limit counts. It stops waiting once
    the planner has caught up."""
    monkeypatch.setattr(engine, "BACKLOG_GATHER_SECONDS", 30.0)  # only catching up may end the wait
    org = world.orgs[0]
    await stored_activities(resources, world, clean_db, 400)
    async with resources.sessionmaker() as session, session.begin():
        first = await planning.plan_pending(session, limit=40, partitions=PARTITIONS)  # 360 still unplanned
    lane = sorted(first.lanes)[0]

    asked = asyncio.Event()
    behind = engine._planning_behind

    async def watched(*args: Any) -> bool:  # tells the test the lane has looked at the planner
        answer = await behind(*args)
        asked.set()
        return answer

    monkeypatch.setattr(engine, "_planning_behind", watched)
    started = time.monotonic()
    drained = asyncio.create_task(drain_lane(resources, lane))
    await asyncio.wait_for(asked.wait(), 10)  # woken, it found its first few deliveries and a planner behind
    async with resources.sessionmaker() as session, session.begin():
        await planning.plan_pending(session, partitions=PARTITIONS)  # the planner catches up
    stats = await asyncio.wait_for(drained, 10)

    assert time.monotonic() - started < 10  # caught up, it sent: it did not sit out its patience
    [call] = org.state.calls.matching("PATCH", INTERACTIONS_PATH)
    assert call.records == stats.deliveries > 40 // PARTITIONS  # the whole partition, in one call


async def test_a_backlog_of_the_other_systems_events_does_not_hold_a_lane_back(
    resources: Resources, world: World, clean_db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls waiting to be planned can only become Medical Activities: an interaction lane with work to
    send sends it at once, instead of waiting for a planner that will never fill its call."""
    monkeypatch.setattr(engine, "BACKLOG_GATHER_SECONDS", 30.0)
    org = world.orgs[0]
    await stored_activities(resources, world, clean_db, 8)
    async with resources.sessionmaker() as session, session.begin():
        lanes = (await planning.plan_pending(session, partitions=PARTITIONS)).lanes
        for n in range(300):  # calls from the org, not planned yet
            await intake.store_event(
                session,
                source="crm",
                sender=str(org.connection_id),
                connection_id=str(org.connection_id),
                webhook_id=f"call-{n}",
                document={"type": "crm.call.sent_to_vault", "data": {"record": {"Id": f"a0B{n:015d}"}}},
                type_="crm.call.sent_to_vault",
                object_="Call2_vod__c",
                record_id=f"a0B{n:015d}",
                source_modified_at=None,
            )
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(drain_lane(resources, lane) for lane in lanes)), 10)
    assert time.monotonic() - started < 10
    assert len(interactions(org)) == 8


async def test_a_partitions_next_batch_is_claimed_while_its_call_is_out_and_calls_wait_their_turn(
    resources: Resources, world: World, clean_db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pipelining: while one batch's call is in flight the next is claimed and mapped, and it calls only
    once that call is answered, so a partition never has two calls out and its records leave in order."""
    org = world.orgs[0]
    await stored_activities(resources, world, clean_db, 60)
    async with resources.sessionmaker() as session, session.begin():
        lanes = (await planning.plan_pending(session, partitions=PARTITIONS)).lanes
    lane = max(lanes, key=lambda name: name)  # any partition: each holds ~15 of the 60
    org.state.faults.configure(FaultSettings(latency_ms=300))

    async def small_calls(_resources: Resources, _lane: str) -> int:
        return 4  # several batches in one partition

    claimed_at: list[float] = []
    claim = engine.deliveries_repo.claim

    async def timed_claim(*args: Any, **kwargs: Any) -> Any:
        batch = await claim(*args, **kwargs)
        if batch:
            claimed_at.append(time.time())
        return batch

    monkeypatch.setattr(engine, "_call_size", small_calls)
    monkeypatch.setattr(engine.deliveries_repo, "claim", timed_claim)
    await asyncio.wait_for(drain_lane(resources, lane), 30)

    calls = sorted(org.state.calls.matching("PATCH", INTERACTIONS_PATH), key=lambda c: c.started or 0)
    assert len(calls) >= 3
    assert len(claimed_at) == len(calls)
    for earlier, later in itertools.pairwise(calls):
        assert (later.started or 0) >= earlier.at  # one call out at a time
    for n in range(1, len(calls)):  # batch n was claimed before batch n-1's call was answered
        assert claimed_at[n] < calls[n - 1].at
    async with clean_db.connect() as conn:
        rows = await conn.execute(text("SELECT DISTINCT status FROM deliveries WHERE lane = :l"), {"l": lane})
        assert [r.status for r in rows] == ["delivered"]


async def test_a_cancelled_drain_leaves_no_batch_running_past_its_lane_lock(
    resources: Resources, world: World, clean_db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker shutting down cancels its drains: the batch whose call is out goes with it (its claim's
    lease hands the work to the next drainer), and so does the next one, claimed meanwhile, instead of
    carrying on outside the lane lock."""
    await stored_activities(resources, world, clean_db, 40)
    async with resources.sessionmaker() as session, session.begin():
        lane = sorted((await planning.plan_pending(session, partitions=PARTITIONS)).lanes)[0]
    out = asyncio.Event()

    async def small_calls(_resources: Resources, _lane: str) -> int:
        return 2  # a second batch to claim while the first one's call is out

    async def call_never_answered(_work: Any) -> Any:
        let_go()  # the call goes out
        out.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(engine, "_call_size", small_calls)
    monkeypatch.setattr(engine, "_handle", call_never_answered)
    drained = asyncio.create_task(drain_lane(resources, lane))
    await asyncio.wait_for(out.wait(), 10)
    drained.cancel()
    with pytest.raises(asyncio.CancelledError):
        await drained
    assert [t for t in asyncio.all_tasks() if "_one_batch" in repr(t.get_coro())] == []
