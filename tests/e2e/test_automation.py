"""F8 end to end: Monitoring Events and Study Communication Log Items created in the CTMS get a related
Clinical Activity, which then reaches every connected CRM org by F1. Real `bridge worker` processes on
real PostgreSQL and Redis, against the simulators.

A Transfer run may add twins of the simulator's events at any time (that is its job), so these tests wait
for the changes they make and judge outcomes per change, never by counting deliveries.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.domain.names import CtmsNames
from app.models import Delivery, DeliveryStatus, GlobalSettings, InboxEvent, Operation
from app.repositories import links as links_repo
from app.services.delivery.automation import handle_automation
from app.services.delivery.outcomes import Outcome
from app.services.delivery.work import LaneWork
from app.simulators.vault.default_schemas import ctms_schema
from app.simulators.vault.state import CtmsIntake
from app.worker.queue import InProcessQueue
from tests.conftest import TEST_CTMS_SECRET, make_settings
from tests.e2e.conftest import delivery_rows, deployment
from tests.e2e.harness import (
    World,
    activities_for,
    any_account,
    automation_switches,
    communication_log_item,
    interactions,
    monitoring_event,
    person,
    simulated_world,
    site,
    study,
    type_id,
)
from tests.e2e.test_transfer import NO_CRON, run_transfer_once
from tests.factories import signed
from tests.processes import eventually

AUTOMATION = "lane LIKE 'ctms:automation%'"
ACTIVITY_UPSERTS = "vobjects/crm_activity__v"
# Vault CRM accounts carry the identifier in external_id__v, not in the global default External_ID_vod__c
VAULT_CRM_MATCH = {"ctms_person_field": "external_id__v", "crm_account_field": "external_id__v"}


async def _now(value: Any) -> Any:
    return value


def _value(v: Any) -> Any:
    """Vault answers picklists as one-element lists."""
    return v[0] if isinstance(v, list) and len(v) == 1 else v


async def decided(engine: AsyncEngine, where: str) -> list[Any]:
    """Wait until some delivery matches `where`, every stored event is planned and no delivery is open;
    return the matching deliveries."""

    async def read() -> tuple[int, list[Any], list[Any]]:
        async with engine.connect() as conn:
            unplanned = await conn.execute(
                text("SELECT count(*) FROM inbox_events WHERE status = 'received'")
            )
            waiting = int(unplanned.scalar_one())
        return waiting, await delivery_rows(engine, where), await delivery_rows(engine)

    _, rows, _ = await eventually(
        read,
        # both reads are checked: they are two snapshots, and the first may be older than the second
        lambda r: (
            r[0] == 0
            and bool(r[1])
            and all(d["status"] not in ("pending", "in_flight") for d in [*r[1], *r[2]])
        ),
        timeout=20,
    )
    return rows


def statuses(rows: list[Any]) -> set[str]:
    return {r["status"] for r in rows}


def of_change(record: dict[str, Any]) -> str:
    """The automation deliveries of one change of a source record (the vault stamps each change). A
    Transfer run's twin of the change, if any, is among them: unchanged, or stale when batched with it."""
    return f"{AUTOMATION} AND source_id = '{record['id']}' AND source_modified_at = '{record['modified_date__v']}'"


async def inbox_status(engine: AsyncEngine, record_id: str) -> set[str]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT status FROM inbox_events WHERE record_id = :id"), {"id": record_id}
        )
        return {r[0] for r in result}


async def one_activity(world: World, source_id: str) -> dict[str, Any]:
    [found] = await eventually(lambda: _now(activities_for(world.vault, source_id)), lambda r: len(r) == 1)
    return found


async def resend_creation(engine: AsyncEngine, world: World, record_id: str) -> str:
    """Post the stored body of the record's creation event again, under a new webhook-id (returned)."""
    async with engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT payload FROM inbox_events WHERE record_id = :id AND type = 'ctms.record.created'"
                " ORDER BY id LIMIT 1"
            ),
            {"id": record_id},
        )
        payload = result.scalar_one()
    msg_id = f"msg_resent_{uuid.uuid4().hex}"
    body, headers = signed(TEST_CTMS_SECRET, payload, msg_id=msg_id)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{world.bridge_url}/webhooks/ctms", content=body, headers=headers)
    assert response.status_code == 202, response.text
    return msg_id


def test_the_simulated_vault_speaks_the_domain_names() -> None:
    """The simulator accepts every field and method value the F8 rules read, or the e2e tests prove little."""
    names, schema = CtmsNames.defaults(), ctms_schema()
    event, log = names.monitoring_event, names.communication_log
    for object_name, fields, method, methods in (
        (event.object, event.fields, event.fields.visit_method, names.picklists.visit_method),
        (log.object, log.fields, log.fields.method, names.picklists.communication_method),
    ):
        obj = schema.get(object_name)
        assert obj is not None
        assert set(fields.model_dump().values()) <= set(obj.fields)
        assert set(obj.fields[method].picklist) == set(methods)
        assert obj.fields[fields.model_dump()["activity_update_required"]].default is False


async def test_a_monitoring_event_creates_one_activity_that_reaches_both_orgs(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    with simulated_world(salesforce_orgs=1, vault_crm_orgs=1) as world:
        salesforce, vault_crm = world.orgs
        await world.connect(clean_db, salesforce)
        await world.connect(clean_db, vault_crm, account_match=VAULT_CRM_MATCH)
        await automation_switches(clean_db, monitoring_events=True)
        async with deployment(world, clean_db, pg_url, redis_url):
            vault = world.vault
            person_id = person(vault, "HCP-000123")
            for org in world.orgs:
                any_account(org, "HCP-000123")
            study_id = study(vault)
            site_id = site(vault, study_id)
            event = monitoring_event(vault, person_id, study_id, site__v=site_id)

            created = await one_activity(world, event["id"])
            assert created["object_type__v"] == type_id(vault, "clinical_activity__v")  # sent by id
            assert (created["person__v"], created["study__v"], created["site__v"]) == (
                person_id,
                study_id,
                site_id,
            )
            assert created["monitoring_event__v"] == event["id"]
            assert (created["activity_date__v"], _value(created["channel__v"])) == (
                "2026-11-19",
                "in_person__v",
            )
            assert (created["subject__v"], created["complete__v"]) == ("IMV 3 - Site 101", True)

            for org in world.orgs:  # F1 carried it on: one interaction per org, with that activity's id
                [row] = await eventually(lambda org=org: _now(interactions(org)), lambda r: len(r) == 1)
                activity_id = row.get("Vault_Activity_ID_vod__c") or row.get("vault_activity_id__v")
                subject = row.get("Subject_vod__c") or row.get("subject__v")
                assert (activity_id, subject) == (created["id"], "IMV 3 - Site 101")
            assert statuses(await decided(clean_db, of_change(event))) - {"stale", "unchanged"} == {
                "delivered"
            }
            upserts = len(vault.calls.matching("POST", ACTIVITY_UPSERTS))

            msg_id = await resend_creation(clean_db, world, event["id"])
            [again] = await decided(
                clean_db, f"event_id IN (SELECT id FROM inbox_events WHERE webhook_id = '{msg_id}')"
            )

            assert again["status"] == "unchanged"
            assert len(vault.calls.matching("POST", ACTIVITY_UPSERTS)) == upserts  # nothing was sent again
            assert activities_for(vault, event["id"]) == [created]
            assert [len(interactions(org)) for org in world.orgs] == [1, 1]
        assert await delivery_rows(clean_db, "status = 'dead'") == []


async def test_an_edit_updates_the_activity_only_when_the_event_asks_for_it(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    with simulated_world() as world:
        [org] = world.orgs
        await world.connect(clean_db, org, sync_studies_and_sites=False)
        await automation_switches(clean_db, monitoring_events=True)
        async with deployment(world, clean_db, pg_url, redis_url):
            vault = world.vault
            person_id = person(vault, "HCP-000123")
            any_account(org, "HCP-000123")
            event = monitoring_event(vault, person_id, study(vault), actual_visit_start_date__v=None)
            planned = await one_activity(world, event["id"])
            assert (planned["activity_date__v"], planned["complete__v"]) == ("2026-11-18", False)

            # the visit took place, and the vault marks the event: the activity follows, the flag is reset
            held = vault.user_update(
                "monitoring_event__v",
                event["id"],
                {
                    "name__v": "IMV 3 - Site 101 (held)",
                    "actual_visit_start_date__v": "2026-11-25",
                    "activity_update_required__v": True,
                },
            )
            assert statuses(await decided(clean_db, of_change(held))) - {"stale", "unchanged"} == {
                "delivered"
            }
            [updated] = activities_for(vault, event["id"])
            assert (updated["id"], updated["subject__v"]) == (planned["id"], "IMV 3 - Site 101 (held)")
            assert (updated["activity_date__v"], updated["complete__v"]) == ("2026-11-25", True)
            assert vault.get("monitoring_event__v", event["id"])["activity_update_required__v"] is False
            await eventually(
                lambda: _now([i["Subject_vod__c"] for i in interactions(org)]),
                lambda s: s == ["IMV 3 - Site 101 (held)"],
            )

            # an edit without the flag leaves the activity, and so the CRM, as they are
            renamed = vault.user_update(
                "monitoring_event__v", event["id"], {"name__v": "renamed, no update asked"}
            )
            assert renamed["activity_update_required__v"] is False
            assert statuses(await decided(clean_db, of_change(renamed))) - {"stale"} == {"unchanged"}
            assert activities_for(vault, event["id"]) == [updated]
            assert [i["Subject_vod__c"] for i in interactions(org)] == ["IMV 3 - Site 101 (held)"]
        assert await delivery_rows(clean_db, "status = 'dead'") == []


@pytest.mark.parametrize("ctms_intake", ["webhooks", "spark"])
async def test_communication_log_items_follow_their_own_switch(
    clean_db: AsyncEngine, pg_url: str, redis_url: str, ctms_intake: CtmsIntake
) -> None:
    with simulated_world() as world:
        [org] = world.orgs
        await world.connect(clean_db, org, sync_studies_and_sites=False)
        await automation_switches(clean_db, communication_log_items=True)
        async with deployment(world, clean_db, pg_url, redis_url):
            vault = world.vault
            # events without the record (thin webhooks, or Spark messages): the bridge reads each from the vault
            vault.emitter.thin = True
            vault.ctms_intake = ctms_intake
            person_id = person(vault, "HCP-000123")
            any_account(org, "HCP-000123")
            study_id = study(vault)
            item = communication_log_item(vault, person_id, study_id)

            created = await one_activity(world, item["id"])
            assert created["object_type__v"] == type_id(vault, "clinical_activity__v")  # sent by id
            assert (created["person__v"], created["study__v"]) == (person_id, study_id)
            assert created["study_communication_log__v"] == item["id"]
            assert (created["activity_date__v"], _value(created["channel__v"])) == ("2026-11-21", "phone__v")
            assert (created["subject__v"], created["complete__v"]) == ("Protocol amendment call", True)
            [row] = await eventually(lambda: _now(interactions(org)), lambda r: len(r) == 1)
            assert row["Vault_Activity_ID_vod__c"] == created["id"]

            # an item without a Person cannot make a valid activity: a dead letter that says why
            orphan = communication_log_item(vault, None, study_id)
            dead = await decided(clean_db, of_change(orphan))
            assert {(d["status"], d["last_error_code"]) for d in dead} == {("dead", "PERSON_MISSING")}

            # the monitoring event switch is off: its events are ignored
            event = monitoring_event(vault, person_id, study_id)
            await eventually(lambda: inbox_status(clean_db, event["id"]), lambda s: s == {"ignored"})

            # with the switch turned off, a new item is ignored too
            await automation_switches(clean_db, communication_log_items=False)
            late = communication_log_item(vault, person_id, study_id, subject__v="After switch-off")
            await eventually(lambda: inbox_status(clean_db, late["id"]), lambda s: s == {"ignored"})
            assert await delivery_rows(clean_db, f"source_id IN ('{event['id']}', '{late['id']}')") == []
            assert activities_for(vault, event["id"]) == []
            assert activities_for(vault, late["id"]) == []
            assert activities_for(vault, orphan["id"]) == []
            assert len(interactions(org)) == 1


async def test_with_no_push_a_transfer_run_finds_the_events_and_items_and_creates_their_activities(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    """F8 poll only (issue 15): the vault sends nothing; a Transfer run reads the new Monitoring Event and
    Communication Log Item, each becomes one activity, and the next run carries those to the org (F1)."""
    with simulated_world() as world:
        [org] = world.orgs
        await world.connect(clean_db, org, sync_studies_and_sites=False)
        await automation_switches(clean_db, monitoring_events=True, communication_log_items=True)
        async with deployment(world, clean_db, pg_url, redis_url, **NO_CRON):
            vault = world.vault
            vault.emitter.enabled = org.state.emitter.enabled = False
            person_id = person(vault, "HCP-000123")
            any_account(org, "HCP-000123")
            study_id = study(vault)
            event = monitoring_event(vault, person_id, study_id)
            item = communication_log_item(vault, person_id, study_id)
            assert (await run_transfer_once(clean_db, redis_url))["status"] == "succeeded"
            from_event, from_item = (
                await one_activity(world, event["id"]),
                await one_activity(world, item["id"]),
            )
            assert from_event["monitoring_event__v"] == event["id"]
            assert from_item["study_communication_log__v"] == item["id"]
            # the activities the bridge wrote are announced by nothing either: the next run finds them (F1)
            assert interactions(org) == []
            assert (await run_transfer_once(clean_db, redis_url))["status"] == "succeeded"
            rows = await eventually(lambda: _now(interactions(org)), lambda r: len(r) == 2)
            assert {r["Vault_Activity_ID_vod__c"] for r in rows} == {from_event["id"], from_item["id"]}
            assert (await run_transfer_once(clean_db, redis_url))["status"] == "succeeded"  # nothing new
            assert activities_for(vault, event["id"]) == [from_event]
            assert activities_for(vault, item["id"]) == [from_item]


# ---- the handler on its own: one batch at a time, as the engine hands it over ----------------------------


@asynccontextmanager
async def handler_resources(world: World, pg_url: str) -> AsyncIterator[Resources]:
    resources = await Resources.open(make_settings(pg_url, **world.settings_values()), InProcessQueue({}))
    try:
        yield resources
    finally:
        await resources.close()


class Batch:
    """Builds the deliveries of one lane batch from vault records, and keeps links as the engine does."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.next_id = 1

    def change(
        self, type_: str, record: dict[str, Any], *, thin: bool = False
    ) -> tuple[Delivery, InboxEvent]:
        n, self.next_id = self.next_id, self.next_id + 1
        data: dict[str, Any] = {"object": "monitoring_event__v", "id": record["id"]}
        if not thin:
            data["record"] = record
        modified = datetime.fromisoformat(record["modified_date__v"].replace("Z", "+00:00"))
        event = InboxEvent(
            id=n,
            sender="ctms",
            webhook_id=f"msg_{n}",
            source="ctms",
            type=f"ctms.record.{type_}",
            object="monitoring_event__v",
            record_id=record["id"],
            source_modified_at=modified,
            payload={"type": f"ctms.record.{type_}", "data": data},
        )
        delivery = Delivery(
            id=n,
            event_id=n,
            direction="ctms_to_ctms",
            operation=Operation.AUTOMATE_ACTIVITY,
            lane="ctms:automation",
            source_object="monitoring_event__v",
            source_id=record["id"],
            source_modified_at=modified,
        )
        return delivery, event

    async def run(self, *changes: tuple[Delivery, InboxEvent]) -> dict[int, Outcome]:
        work = LaneWork(
            self.resources,
            self.resources.clients,
            "ctms:automation",
            [d for d, _ in changes],
            {e.id: e for _, e in changes if e.id is not None},
            {},
            GlobalSettings(id=1, automate_monitoring_events=True),
        )
        outcomes = await handle_automation(work)
        async with self.resources.sessionmaker() as session, session.begin():
            for outcome in outcomes.values():
                if outcome.link is not None:
                    await links_repo.save(session, outcome.link)
        return outcomes


async def test_the_handler_creates_from_the_newest_state_and_applies_each_change_once(
    clean_db: AsyncEngine, pg_url: str
) -> None:
    with simulated_world(salesforce_orgs=0) as world:
        vault = world.vault
        person_id = person(vault, "HCP-000123")
        v1 = monitoring_event(vault, person_id, study(vault))
        v2 = vault.user_update("monitoring_event__v", v1["id"], {"name__v": "IMV 3 (moved)"})
        async with handler_resources(world, pg_url) as resources:
            batch = Batch(resources)

            # created, then edited without the flag before the bridge saw either: it is still created
            created, edited = batch.change("created", v1), batch.change("updated", v2)
            outcomes = await batch.run(created, edited)
            assert outcomes[1].status == DeliveryStatus.STALE
            assert outcomes[2].status == DeliveryStatus.DELIVERED
            [activity] = activities_for(vault, v1["id"])
            assert (outcomes[2].target_id, activity["subject__v"]) == (activity["id"], "IMV 3 (moved)")

            # a flagged change older than what the activity reflects is stale, and leaves the flag alone
            old = vault.user_update("monitoring_event__v", v1["id"], {"activity_update_required__v": True})
            late = batch.change("updated", {**old, "modified_date__v": v1["modified_date__v"]})
            assert (await batch.run(late))[3].status == DeliveryStatus.STALE
            assert vault.get("monitoring_event__v", v1["id"])["activity_update_required__v"] is True

            # a flagged change that changes nothing the activity shows: no write, but the flag is reset
            upserts = len(vault.calls.matching("POST", ACTIVITY_UPSERTS))
            flagged = batch.change("updated", old, thin=True)  # thin: the record is read from the vault
            assert (await batch.run(flagged))[4].status == DeliveryStatus.UNCHANGED
            assert len(vault.calls.matching("POST", ACTIVITY_UPSERTS)) == upserts
            assert vault.get("monitoring_event__v", v1["id"])["activity_update_required__v"] is False
            assert activities_for(vault, v1["id"]) == [activity]

            # a thin event for a record deleted since: nothing to build the activity from
            vault.user_delete("monitoring_event__v", v1["id"])
            gone = await batch.run(batch.change("updated", old, thin=True))
            assert (gone[5].status, gone[5].error_code) == (DeliveryStatus.DEAD, "RECORD_NOT_FOUND")
