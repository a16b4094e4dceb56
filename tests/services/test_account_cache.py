"""Issue 14 point 4: the cached person → account match follows the CRM. An account merged away (deleted)
in the CRM makes the next write fail with ENTITY_IS_DELETED; the bridge drops the match, matches the
person again and delivers to the surviving account, instead of a dead letter a replay would repeat."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.context import Resources
from app.models import utcnow
from app.services import record_timeline
from app.services.delivery.engine import drain_lane
from app.worker.queue import InProcessQueue
from tests.conftest import make_settings
from tests.e2e.harness import (
    World,
    account,
    activity,
    any_account,
    interactions,
    person,
    simulated_world,
    study,
)
from tests.services.conftest import PARTITIONS, _drained_by_the_test
from tests.services.test_pipeline import changed, plan_and_drain, store

VAULT_CRM_MATCH = {"ctms_person_field": "external_id__v", "crm_account_field": "external_id__v"}


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


async def test_a_transfer_run_forgets_matches_of_accounts_re_keyed_merged_or_deleted(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    from app.models import AccountMatch
    from app.repositories import transfer_runs
    from app.services.transfer.run import run_transfer
    from tests.clients.conftest import Clock

    org = world.orgs[0]
    clock = Clock()
    clock.now = utcnow().replace(microsecond=0) - timedelta(hours=2)
    org.state.clock = clock
    org.state.started_at = clock.now  # its delete log reaches back to here
    connection_id = await world.connect(clean_db, org, sync_studies_and_sites=False)
    rekeyed, merged, untouched = account(org, "HCP-41"), account(org, "HCP-42"), account(org, "HCP-43")
    async with AsyncSession(clean_db) as session:
        for person_id, value, account_id in [
            ("V0P41", "HCP-41", rekeyed),
            ("V0P42", "HCP-42", merged),
            ("V0P43", "HCP-43", untouched),
            ("V0P44", "HCP-44", "001000000000044"),  # a survivor now carries HCP-44 (below)
        ]:
            session.add(
                AccountMatch(
                    connection_id=connection_id,
                    person_id=person_id,
                    identifier_value=value,
                    account_id=account_id,
                )
            )
        await session.commit()
    async with resources.sessionmaker() as session, session.begin():
        await transfer_runs.set_watermark(
            session, f"crm:{connection_id}:accounts", clock.now + timedelta(minutes=10), utcnow()
        )

    clock.advance(hours=1)  # later, in the CRM:
    org.state.update_record("Account", rekeyed, {"External_ID_vod__c": "HCP-41-NEW"})
    org.state.delete_record("Account", merged)
    account(org, "HCP-44")
    clock.advance(minutes=2)  # deleted/ covers whole past minutes
    run = await run_transfer(resources, trigger="manual")

    assert run is not None
    assert run.counts[f"{connection_id}/Account"] == {"seen": 3}
    async with clean_db.connect() as conn:
        left = (
            await conn.execute(text("SELECT person_id FROM account_matches ORDER BY person_id"))
        ).scalars()
        assert list(left) == ["V0P43"]  # only the match nobody touched is still trusted
    async with resources.sessionmaker() as session:
        moved = await transfer_runs.watermark(session, f"crm:{connection_id}:accounts")
    assert moved is not None
    assert moved > clock.now - timedelta(hours=2)


async def test_on_vault_crm_an_account_deleted_since_is_matched_again_not_dead_lettered(
    clean_db: AsyncEngine, pg_url: str
) -> None:
    """Vault answers a reference to a record that is gone with INVALID_DATA naming the field, not with
    Salesforce's codes: the same recovery follows."""
    with simulated_world(salesforce_orgs=0, vault_crm_orgs=1) as world:
        settings = make_settings(pg_url, connection_concurrency=PARTITIONS, **world.settings_values())
        resources = await Resources.open(settings, InProcessQueue({"deliver_lane": _drained_by_the_test}))
        try:
            [org] = world.orgs
            await world.connect(clean_db, org, sync_studies_and_sites=False, account_match=VAULT_CRM_MATCH)
            loser = any_account(org, "HCP-31")
            record = activity(world.vault, person(world.vault, "HCP-31"), study(world.vault))
            await store(resources, changed(record))
            await plan_and_drain(resources)
            assert await cached_account(clean_db) == loser

            org.state.user_delete("account__v", loser)
            survivor = any_account(org, "HCP-31")
            later = datetime.fromisoformat(record["modified_date__v"]) + timedelta(seconds=5)
            await store(resources, changed(record, subject__v="after", modified_date__v=later.isoformat()))
            lanes = await plan_and_drain(resources)
            assert await cached_account(clean_db) is None  # the vault said the account is gone

            async with clean_db.begin() as conn:  # the retry's backoff has passed
                await conn.execute(
                    text("UPDATE deliveries SET next_attempt_at = now() WHERE status = 'pending'")
                )
            for lane in lanes:
                await drain_lane(resources, lane)
            [interaction] = interactions(org)
            assert interaction["account__v"] == survivor
            assert await cached_account(clean_db) == survivor
        finally:
            await resources.close()
