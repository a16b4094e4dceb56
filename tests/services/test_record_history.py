"""Issue 18 point 4: a record's history answers "why is it not in the CRM?" and survives replays.

Driven in-process like tests/services/test_pipeline.py (store, plan, drain by hand; simulators as real
HTTP servers): a failure before anything was sent is an attempt in the history, a replay keeps the
earlier attempts, a dead letter superseded by a later success is closed as `superseded` (and bulk
replay no longer counts it), and an ignored event says why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.models import utcnow
from app.repositories.deliveries_query import DeliveryFilter
from app.services import record_timeline, replay
from app.services.delivery.engine import NOT_SENT, drain_lane
from tests.e2e.harness import World, account, activity, interactions, person, study
from tests.services.test_pipeline import changed, plan_and_drain, store


async def trace(resources: Resources, record_id: str) -> record_timeline.Trace:
    async with resources.sessionmaker() as session:
        return await record_timeline.trace(session, record_id, transfer_interval=300, now=utcnow())


async def test_a_failure_before_sending_is_an_attempt_and_a_replay_keeps_it(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    record = activity(world.vault, person(world.vault, "HCP-7"), study(world.vault))
    await store(resources, changed(record))
    await plan_and_drain(resources)  # no CRM account carries HCP-7 yet: unmatched, nothing sent

    [path] = (await trace(resources, record["id"])).timeline.all_deliveries
    assert path.delivery.status == "unmatched"
    [first] = path.attempts
    assert (first.target, first.outcome, first.error_code) == (NOT_SENT, "unmatched", "PERSON_NOT_MATCHED")

    account(org, "HCP-7")
    async with resources.sessionmaker() as session, session.begin():
        await replay.replay(session, path.delivery.id or 0, actor="test")
    await drain_lane(resources, path.delivery.lane)

    found = await trace(resources, record["id"])
    [path] = found.timeline.all_deliveries
    assert path.delivery.status == "delivered"
    assert path.delivery.last_error_code is None  # the delivery's current state is clean …
    assert [(a.outcome, a.error_code) for a in path.attempts] == [  # … its history is not rewritten
        ("unmatched", "PERSON_NOT_MATCHED"),
        ("success", None),
    ]
    [interaction] = interactions(org)
    assert interaction["Id"] in found.timeline.ids  # the link leads to the CRM record
    assert any("was delivered as" in f for f in found.findings)


async def test_a_dead_letter_superseded_by_a_later_success_is_closed(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    account(org, "HCP-8")
    twin = account(org, "HCP-8")  # two accounts carry the identifier: AMBIGUOUS_ACCOUNT, a dead letter
    record = activity(world.vault, person(world.vault, "HCP-8"), study(world.vault))
    await store(resources, changed(record))
    await plan_and_drain(resources)
    [dead] = (await trace(resources, record["id"])).timeline.all_deliveries
    assert (dead.delivery.status, dead.delivery.last_error_code) == ("dead", "AMBIGUOUS_ACCOUNT")
    assert [(a.target, a.error_code) for a in dead.attempts] == [(NOT_SENT, "AMBIGUOUS_ACCOUNT")]

    org.state.delete_record("Account", twin)  # the CRM admin merges the duplicate away
    later = datetime.fromisoformat(record["modified_date__v"]) + timedelta(seconds=5)
    await store(resources, changed(record, subject__v="edited", modified_date__v=later.isoformat()))
    await plan_and_drain(resources)

    found = await trace(resources, record["id"])
    assert [d.delivery.status for d in found.timeline.all_deliveries] == ["superseded", "delivered"]
    [interaction] = interactions(org)
    assert interaction["Subject_vod__c"].startswith("edited")
    async with resources.sessionmaker() as session:
        counted = await replay.replay_bulk(
            session, DeliveryFilter(), dry_run=True, up_to_id=None, as_of=None, limit=500, actor="test"
        )
    assert counted.matched == 0  # nothing left for bulk replay to send again
    async with clean_db.connect() as conn:
        history = (await conn.execute(text("SELECT count(*) FROM delivery_attempts"))).scalar_one()
    assert history == 2  # the dead letter's attempt is kept


async def test_an_ignored_event_says_why(resources: Resources, world: World, clean_db: AsyncEngine) -> None:
    # no CRM connection at all: a clinical activity has nowhere to go
    record = activity(world.vault, person(world.vault, "HCP-9"), study(world.vault))
    echo = activity(
        world.vault, person(world.vault, "HCP-10"), study(world.vault), kind="medical_activity__v"
    )
    # a record that names its type (as catch-up reads it): planning, which does no I/O, can judge it
    named = changed(echo, **{"object_type__vr.api_name__v": "medical_activity__v"})
    await store(resources, changed(record), named)
    await plan_and_drain(resources)

    nowhere = (await trace(resources, record["id"])).timeline.events[0].event
    assert (nowhere.status, nowhere.error_code) == ("ignored", "NO_ACTIVE_CONNECTION")
    found = await trace(resources, echo["id"])
    assert found.timeline.events[0].event.error_code == "ECHO_OF_OWN_WRITE"
    assert any("own write" in f for f in found.findings)


async def test_an_unknown_record_points_at_the_next_transfer_run(resources: Resources) -> None:
    async with resources.sessionmaker() as session:
        found = await record_timeline.trace(
            session, "V6A000000009999", transfer_interval=300, now=datetime(2026, 12, 2, 10, 7, tzinfo=UTC)
        )
    assert found.timeline.empty
    assert found.transfer.next_run_at == datetime(2026, 12, 2, 10, 10, tzinfo=UTC)
    [finding] = found.findings
    assert "Nothing about V6A000000009999" in finding
    assert "2026-12-02T10:10:00+00:00" in finding
