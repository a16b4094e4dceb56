"""Catch-up against the simulators as the real APIs page and cover (issue 14), in this process (no workers,
no webhooks): every page of Vault deletions is read, one object the vault refuses holds back only its own
watermark, a Salesforce watermark never passes the deletions' latestDateCovered, and the calls' "sent to
Vault Clinical" flag is the connection's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clients.crm import SalesforceGateway
from app.clients.salesforce import SalesforceClient
from app.context import Resources
from app.db import create_sessionmaker
from app.models import utcnow
from app.repositories import transfer_runs
from app.services import planning
from app.services.names import crm_names_for
from app.services.transfer.catchup import catch_up_crm
from app.services.transfer.run import OVERLAP, run_transfer
from app.simulators.common.faults import FaultSettings
from app.simulators.common.server import ServerThread
from app.simulators.salesforce import SalesforceState, create_salesforce_app
from app.simulators.salesforce.schema import FieldDef, FieldType
from app.simulators.vault import SchemaRegistry, VaultState, create_vault_app, ctms_schema
from app.worker.queue import InProcessQueue
from tests.clients.conftest import SF_CLIENT_ID, SF_CLIENT_SECRET, SF_INSTANCE_URL, Clock, sf_credentials
from tests.conftest import make_settings
from tests.e2e.harness import VAULT_PASSWORD, VAULT_USER, automation_switches
from tests.factories import add_connection

ACTIVITY = "crm_activity__v"
COMMUNICATION_LOG = "study_communication_log__ctms"
CTMS_OBJECTS = (ACTIVITY, "person__sys", "study__v", "site__v", "monitoring_event__v", COMMUNICATION_LOG)


@pytest.fixture
def vault(request: pytest.FixtureRequest) -> Iterator[tuple[VaultState, str]]:
    """A CTMS vault served over HTTP; `@pytest.mark.parametrize("vault", [...], indirect=True)` names objects
    it does not have."""
    missing = set(getattr(request, "param", ()))
    state = VaultState(schema=SchemaRegistry(o for o in ctms_schema() if o.name not in missing))
    state.emitter.enabled = False  # only catch-up brings changes in
    with ServerThread(create_vault_app(state)) as server:
        yield state, server.url


@pytest.fixture
async def resources(
    clean_db: AsyncEngine, pg_url: str, vault: tuple[VaultState, str]
) -> AsyncIterator[Resources]:
    state, url = vault
    settings = make_settings(
        pg_url,
        vault_url=url,
        vault_username=VAULT_USER,
        vault_password=VAULT_PASSWORD,
        vault_id=str(state.config.vault_id),
    )
    res = await Resources.open(settings, InProcessQueue({}))
    yield res
    await res.close()


async def _set_watermarks(resources: Resources, value: datetime) -> None:
    async with resources.sessionmaker() as session, session.begin():
        for name in CTMS_OBJECTS:
            await transfer_runs.set_watermark(session, f"ctms:{name}", value, utcnow())


async def _watermark(resources: Resources, name: str) -> datetime | None:
    async with resources.sessionmaker() as session:
        return await transfer_runs.watermark(session, f"ctms:{name}")


async def _events(engine: AsyncEngine, type_: str) -> list[Any]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT record_id FROM inbox_events WHERE type = :type ORDER BY id"), {"type": type_}
        )
        return [row.record_id for row in result]


async def test_a_run_catches_up_every_deletion_past_vaults_first_page(
    resources: Resources, vault: tuple[VaultState, str], clean_db: AsyncEngine
) -> None:
    state, _ = vault
    before = utcnow() - timedelta(minutes=1)
    await _set_watermarks(resources, before)
    ids = [str(state.user_create(ACTIVITY, {"external_id__v": f"A-{i}"})["id"]) for i in range(1005)]
    for record_id in ids:
        state.user_delete(ACTIVITY, record_id)

    run = await run_transfer(resources, trigger="manual")

    assert run is not None
    assert (run.status, run.errors) == ("succeeded", [])
    assert run.counts[f"ctms/{ACTIVITY}"]["seen"] == 1005
    assert sorted(await _events(clean_db, "ctms.record.deleted")) == sorted(ids)
    assert await _watermark(resources, ACTIVITY) == run.started_at


async def test_a_run_the_vault_holds_back_pauses_the_vault_for_every_worker(
    resources: Resources, vault: tuple[VaultState, str], clean_db: AsyncEngine
) -> None:
    state, _ = vault
    await _set_watermarks(resources, utcnow() - timedelta(minutes=1))
    # every answer past the burst's first call is delayed 20 ms and says so in X-VaultAPI-ResponseDelay
    state.faults.configure(FaultSettings(burst_limit=1000, throttle_below=1000, throttle_delay_ms=20))

    run = await run_transfer(resources, trigger="manual")

    assert run is not None
    assert run.status == "succeeded"
    async with clean_db.connect() as conn:
        gates = (await conn.execute(text("SELECT target, reason FROM throttle_gates"))).all()
    assert [(g.target, g.reason) for g in gates] == [("ctms", "RESPONSE_DELAY")]


@pytest.mark.parametrize("vault", [[COMMUNICATION_LOG]], indirect=True)
async def test_an_object_the_vault_lacks_fails_alone_and_the_others_move_on(
    resources: Resources, vault: tuple[VaultState, str], clean_db: AsyncEngine
) -> None:
    state, _ = vault
    await automation_switches(clean_db, communication_log_items=True)
    before = utcnow() - timedelta(minutes=1)
    await _set_watermarks(resources, before)
    created = state.user_create(ACTIVITY, {"external_id__v": "A-1"})

    run = await run_transfer(resources, trigger="manual")

    assert run is not None
    assert run.status == "failed"
    [error] = run.errors
    assert (error["source"], error["object"]) == (f"ctms/{COMMUNICATION_LOG}", COMMUNICATION_LOG)
    assert error["code"] == "INVALID_DATA", error  # the simulator's answer to a query on no such object
    assert COMMUNICATION_LOG in error["message"]
    assert run.counts[f"ctms/{ACTIVITY}"]["seen"] == 1
    assert await _events(clean_db, "ctms.record.created") == [created["id"]]
    assert await _watermark(resources, COMMUNICATION_LOG) == before  # read again next run
    assert await _watermark(resources, ACTIVITY) == run.started_at
    assert await _watermark(resources, "person__sys") == run.started_at


async def test_a_salesforce_watermark_stops_at_latest_date_covered_so_a_held_back_deletion_comes_next_run(
    clean_db: AsyncEngine,
) -> None:
    clock = Clock()  # 10:00
    org = SalesforceState(clients={SF_CLIENT_ID: SF_CLIENT_SECRET}, clock=clock, instance_url=SF_INSTANCE_URL)
    async with AsyncSession(clean_db, expire_on_commit=False) as session:
        connection, _ = await add_connection(session)
        await session.commit()
    sessions = create_sessionmaker(clean_db)
    call_id = org.create_record("Call2_vod__c", {"Subject_vod__c": "logged by mistake"})["Id"]
    clock.advance(minutes=1, seconds=30)
    org.delete_record("Call2_vod__c", call_id)  # 10:01:30
    clock.advance(minutes=1)
    org.replication_lag_seconds = 180  # a transaction open since 09:59 holds the delete log back
    transport = httpx.ASGITransport(create_salesforce_app(org))
    async with httpx.AsyncClient(transport=transport) as http:
        gateway = SalesforceGateway(SalesforceClient(http, sf_credentials()))

        async def run(since: datetime) -> Any:
            return await catch_up_crm(
                gateway, connection, crm_names_for(connection), "External_ID_vod__c", sessions, since, clock()
            )

        first = await run(clock() - timedelta(minutes=12))
        assert first.until == clock.now.replace(minute=59, hour=9, second=0)  # latestDateCovered, not now
        assert await _events(clean_db, "crm.call.deleted") == []

        org.replication_lag_seconds = 0
        clock.advance(minutes=8)  # the next run, well past the two minutes catch-up always re-reads
        second = await run(first.until - OVERLAP)
    assert await _events(clean_db, "crm.call.deleted") == [call_id]
    assert second.until == clock.now.replace(second=0)


async def test_catch_up_reads_the_sent_flag_the_connection_names(clean_db: AsyncEngine) -> None:
    clock = Clock()
    org = SalesforceState(clients={SF_CLIENT_ID: SF_CLIENT_SECRET}, clock=clock, instance_url=SF_INSTANCE_URL)
    org.schema.remove_field("Call2_vod__c", "Sent_to_Vault_Clinical_vod__c")  # this org spells it its own way
    org.schema.set_field(
        "Call2_vod__c", FieldDef("Sent_To_Clinical__c", FieldType.BOOLEAN, "Sent to Clinical")
    )
    async with AsyncSession(clean_db, expire_on_commit=False) as session:
        connection, _ = await add_connection(session)
        connection.object_names = {"call": {"fields": {"sent_to_vault": "Sent_To_Clinical__c"}}}
        await session.commit()
    org.create_record("Call2_vod__c", {"Subject_vod__c": "not for the CTMS"})
    sent = org.create_record("Call2_vod__c", {"Subject_vod__c": "safety", "Sent_To_Clinical__c": True})["Id"]
    clock.advance(minutes=3)
    transport = httpx.ASGITransport(create_salesforce_app(org))
    async with httpx.AsyncClient(transport=transport) as http:
        gateway = SalesforceGateway(SalesforceClient(http, sf_credentials()))
        got = await catch_up_crm(
            gateway,
            connection,
            crm_names_for(connection),
            "External_ID_vod__c",
            create_sessionmaker(clean_db),
            clock() - timedelta(minutes=10),
            clock(),
        )

    assert got.seen == 1
    assert await _events(clean_db, "crm.call.sent_to_vault") == [sent]


async def test_a_run_without_a_ctms_configured_says_so(clean_db: AsyncEngine, pg_url: str) -> None:
    res = await Resources.open(make_settings(pg_url), InProcessQueue({}))
    try:
        run = await run_transfer(res, trigger="manual")
    finally:
        await res.close()

    assert run is not None
    assert run.status == "failed"
    assert [(e["source"], e["code"]) for e in run.errors] == [("ctms", "CTMS_NOT_CONFIGURED")]


async def test_catch_up_reads_each_activitys_type_by_name(
    resources: Resources, vault: tuple[VaultState, str], clean_db: AsyncEngine
) -> None:
    """The vault answers object_type__v with an id; catch-up asks for object_type__vr.api_name__v too, so a
    caught-up Medical Activity (the bridge's own write) is known as the echo it is without another read."""
    state, _ = vault
    await _set_watermarks(resources, utcnow() - timedelta(minutes=1))
    medical_type = state.object_type_id(ACTIVITY, "medical_activity__v")
    medical = state.user_create(ACTIVITY, {"external_id__v": "M-1", "object_type__v": medical_type})
    clinical = state.user_create(ACTIVITY, {"external_id__v": "C-1"})

    run = await run_transfer(resources, trigger="manual")
    async with resources.sessionmaker() as session, session.begin():
        await planning.plan_pending(session)

    assert run is not None
    assert run.status == "succeeded", run.errors
    async with clean_db.connect() as conn:
        rows = await conn.execute(
            text("SELECT record_id, status, error_code, payload FROM inbox_events WHERE object = :o"),
            {"o": ACTIVITY},
        )
        events = {row.record_id: row for row in rows}
    record = events[medical["id"]].payload["data"]["record"]
    assert record["object_type__v"] == medical_type
    assert record["object_type__vr.api_name__v"] == "medical_activity__v"
    assert (events[medical["id"]].status, events[medical["id"]].error_code) == (
        "ignored",
        "ECHO_OF_OWN_WRITE",
    )
    assert events[clinical["id"]].error_code == "NO_ACTIVE_CONNECTION"  # no CRM connection: nowhere to go


def test_a_deletion_dated_to_the_second_counts_as_after_every_change_in_that_second() -> None:
    """A call sent at 12:00:05.400 and deleted at 12:00:05.700 is listed as deleted at 12:00:05(.000): read
    as such, the deletion would look older than the change and be skipped as stale, leaving the Medical
    Activity active for ever."""
    from app.services.transfer.catchup import deleted_at_the_latest

    assert deleted_at_the_latest("2026-12-04T12:00:05.000Z") == "2026-12-04T12:00:05.999Z"
    assert deleted_at_the_latest("2026-12-04T12:00:05Z") == "2026-12-04T12:00:05.999Z"
    assert deleted_at_the_latest("2026-12-04T12:00:05.000+0000") == "2026-12-04T12:00:05.999Z"  # Salesforce
    assert deleted_at_the_latest("2026-12-04T12:00:05.250Z") == "2026-12-04T12:00:05.250Z"  # precise: as is
    assert deleted_at_the_latest("not a time") == "not a time"
