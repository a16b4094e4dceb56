"""Issue 14 point 4: the cached person → account match follows the CRM. An account merged away (deleted)
in the CRM makes the next write fail with ENTITY_IS_DELETED; the bridge drops the match, matches the
person again and delivers to the surviving account, instead of a dead letter a replay would repeat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.models import utcnow
from app.services import record_timeline
from app.services.delivery.engine import drain_lane
from app.worker.queue import InProcessQueue
from tests.conftest import make_settings
from tests.e2e.harness import World, account, activity, interactions, person, simulated_world, study
from tests.services.test_pipeline import PARTITIONS, changed, plan_and_drain, store


@pytest.fixture
def world() -> Iterator[World]:
    with simulated_world() as world:
        yield world


@pytest.fixture
async def resources(clean_db: AsyncEngine, pg_url: str, world: World) -> AsyncIterator[Resources]:
    settings = make_settings(pg_url, connection_concurrency=PARTITIONS, **world.settings_values())
    res = await Resources.open(settings, InProcessQueue({"deliver_lane": _by_hand}))
    yield res
    await res.close()


async def _by_hand(_ctx: object, _lane: str) -> None:
    """The retry's wake-up: this test drains the lane itself, when it says time has passed."""


async def cached_account(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT account_id FROM account_matches"))).scalar()


async def test_an_account_merged_away_is_matched_again_not_dead_lettered(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    loser = account(org, "HCP-31")
    record = activity(world.vault, person(world.vault, "HCP-31"), study(world.vault))
    await store(resources, changed(record))
    await plan_and_drain(resources)
    assert await cached_account(clean_db) == loser

    org.state.delete_record("Account", loser)  # merged into a survivor that carries the identifier
    survivor = account(org, "HCP-31")
    later = datetime.fromisoformat(record["modified_date__v"]) + timedelta(seconds=5)
    await store(resources, changed(record, subject__v="after the merge", modified_date__v=later.isoformat()))
    lanes = await plan_and_drain(resources)
    assert await cached_account(clean_db) is None  # the CRM said the account is gone: match dropped

    async with clean_db.begin() as conn:  # the retry's backoff has passed
        await conn.execute(text("UPDATE deliveries SET next_attempt_at = now() WHERE status = 'pending'"))
    for lane in lanes:
        await drain_lane(resources, lane)

    [interaction] = interactions(org)
    assert interaction["Account_vod__c"] == survivor
    assert interaction["Subject_vod__c"].startswith("after the merge")
    assert await cached_account(clean_db) == survivor
    async with resources.sessionmaker() as session:
        found = await record_timeline.trace(session, record["id"], transfer_interval=300, now=utcnow())
    latest = found.timeline.all_deliveries[-1]
    assert latest.delivery.status == "delivered"
    assert [(a.outcome, a.error_code) for a in latest.attempts] == [
        ("transient", "ENTITY_IS_DELETED"),
        ("success", None),
    ]
