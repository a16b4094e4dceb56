"""Issue 6: every flow end to end, both directions, two connections with different account identifiers,
real `bridge worker` processes on real PostgreSQL and Redis, against the simulators."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.simulators.vault.state import CtmsIntake
from tests.e2e.conftest import delivery_rows, deployment
from tests.e2e.harness import account, activity, interactions, person, simulated_world, site, study, type_name
from tests.e2e.test_transfer import NO_CRON, run_transfer_once
from tests.processes import eventually

NPI_MATCH = {"ctms_person_field": "npi__v", "crm_account_field": "NPI_vod__c"}


def records(org: Any, object_name: str) -> list[dict[str, Any]]:
    return list(org.state.list_records(object_name))


@pytest.mark.parametrize("intake", ["webhooks", "native", "poll"])
async def test_every_flow_both_ways_with_two_connections(
    clean_db: AsyncEngine, pg_url: str, redis_url: str, intake: str
) -> None:
    """With events arriving as Standard Webhooks, or as the systems send them natively (issue 15): the
    vault's changes as Spark messages, the orgs' calls as Outbound Messages; or with no push at all, each
    change found by the Transfer job's catch-up (a run is started where the cron's would come)."""
    with simulated_world(salesforce_orgs=2) as world:
        ctms_intake: CtmsIntake = "spark" if intake == "native" else "webhooks"
        world.vault.ctms_intake = ctms_intake
        a, b = world.orgs
        a.outbound_messages = b.outbound_messages = intake == "native"
        await world.connect(clean_db, a)  # the global identifier pair: external_id__v ↔ External_ID_vod__c
        await world.connect(clean_db, b, account_match=NPI_MATCH)  # its own pair: npi__v ↔ NPI_vod__c
        async with deployment(world, clean_db, pg_url, redis_url, **NO_CRON):
            vault = world.vault
            poll = intake == "poll"
            for emitter in (vault.emitter, a.state.emitter, b.state.emitter):
                emitter.enabled = not poll

            async def transfer_run() -> None:  # poll only: what the next scheduled run would find
                if poll:
                    assert (await run_transfer_once(clean_db, redis_url))["status"] == "succeeded"

            person_id = person(vault, "HCP-000123", npi__v="1234567890")
            account_a = account(a, "HCP-000123")
            account_b = account(b, "1234567890", "NPI_vod__c")
            study_id = study(vault, "VVT485-301")
            site_id = site(vault, study_id, "Site 101 Berlin")
            created = activity(
                vault, person_id, study_id, site__v=site_id, channel__v="phone__v", complete__v=False
            )

            # F1 (with F5/F6 parents first): one interaction per org, each with its own account
            await transfer_run()
            for org, account_id in ((a, account_a), (b, account_b)):
                [row] = await eventually(
                    lambda org=org: _async(interactions(org)), lambda rows: len(rows) == 1
                )
                assert row["Vault_Activity_ID_vod__c"] == created["id"]
                assert row["Account_vod__c"] == account_id
                assert (row["Call_Channel_vod__c"], row["Status_vod__c"]) == ("Phone_vod", "Planned_vod")
                assert row["From_vod__c"]
                assert "(" in row["From_vod__c"]
                [clinical_study] = records(org, "Clinical_Study_vod__c")
                [clinical_site] = await eventually(
                    lambda org=org: _async(records(org, "Clinical_Site_vod__c")), lambda rows: len(rows) == 1
                )
                assert clinical_study["Name"] == "VVT485-301"
                assert clinical_study["Vault_Study_ID_vod__c"] == study_id
                assert clinical_site["Clinical_Study_vod__c"] == clinical_study["Id"]
                assert row["Clinical_Study_vod__c"] == clinical_study["Id"]
                assert row["Clinical_Site_vod__c"] == clinical_site["Id"]

            # F3: a call in org b (NPI identifier) sent to Vault Clinical becomes a Medical Activity
            call = b.state.create_record(
                "Call2_vod__c",
                {
                    "Account_vod__c": account_b,
                    "Call_Date_vod__c": "2026-11-18",
                    "Call_Channel_vod__c": "Email_vod",
                    "Status_vod__c": "Submitted_vod",
                    "Subject_vod__c": "Safety follow-up",
                },
            )
            b.state.send_call_to_vault(call["Id"])
            await transfer_run()

            def medical() -> list[dict[str, Any]]:
                return [
                    r
                    for r in vault.records_of("crm_activity__v")
                    if type_name(vault, r) == "medical_activity__v"
                ]

            [med] = await eventually(lambda: _async(medical()), lambda rows: len(rows) == 1)
            assert med["external_id__v"] == f"{b.connection_id}:{call['Id']}"
            assert med["person__v"] == person_id
            assert _value(med["channel__v"]) == "email__v"
            assert med["complete__v"] is True
            assert med["from__v"] == "Ana Silva (ana.silva@example.com)"

            # F9: the vault announced that Medical Activity to the bridge; it must not come back to a CRM
            # (judged from the webhook's record; a Spark item is thin, so its deliveries judge the read record)
            await transfer_run()  # poll: a run after the write finds the Medical Activity, as its own
            await eventually(lambda: _echo_not_sent(clean_db, med["id"], intake), bool)
            assert len(interactions(a)) == 1
            assert len(interactions(b)) == 1

            # F2: deleting the activity appends "Deleted" to the subject, in both orgs
            vault.user_delete("crm_activity__v", created["id"])
            await transfer_run()
            for org in (a, b):
                await eventually(
                    lambda org=org: _async(interactions(org)[0]["Subject_vod__c"]),
                    lambda s: s == "Protocol Q&A Deleted",
                )

            # F7: deleting the site marks the CRM's Clinical Site, never removes it
            vault.user_delete("site__v", site_id)
            await transfer_run()
            for org in (a, b):
                await eventually(
                    lambda org=org: _async(records(org, "Clinical_Site_vod__c")[0]["Status_vod__c"]),
                    lambda s: s == "Deleted_in_Vault_Clinical_vod",
                )
        dead = await delivery_rows(clean_db, "status = 'dead'")
        assert dead == [], dead
        async with clean_db.connect() as conn:
            arrived = {(r[0], r[1].split(":")[0]) for r in await conn.execute(text(SQL_INTAKES))}
        expected = {
            "webhooks": {("ctms", ""), ("crm", "")},
            "native": {("ctms", "spark"), ("crm", "outbound")},
            "poll": {("ctms", "transfer"), ("crm", "transfer")},
        }[intake]
        assert arrived == expected  # every event came the way this run was wired


async def _echo_not_sent(engine: AsyncEngine, record_id: str, intake: str) -> bool:
    async with engine.connect() as conn:
        events = [r[0] for r in await conn.execute(text(SQL_EVENTS), {"id": record_id})]
        deliveries = [r[0] for r in await conn.execute(text(SQL_DELIVERIES), {"id": record_id})]
    if intake == "webhooks":
        return events == ["ignored"] and deliveries == []
    if intake == "native":  # a Spark item is thin: its deliveries judge the record they read
        return bool(deliveries) and set(deliveries) == {"unchanged"}
    # poll: catch-up may leave the bridge's own write out, or feed it and see the echo
    return set(events) <= {"ignored"} and set(deliveries) <= {"unchanged"}


SQL_INTAKES = "SELECT source, CASE WHEN webhook_id LIKE '%:%' THEN webhook_id ELSE '' END FROM inbox_events"
SQL_EVENTS = "SELECT status FROM inbox_events WHERE record_id = :id"
SQL_DELIVERIES = "SELECT status FROM deliveries WHERE source_id = :id"


async def _async(value: Any) -> Any:
    return value


def _value(v: Any) -> Any:
    """Vault answers picklists as one-element lists."""
    return v[0] if isinstance(v, list) and len(v) == 1 else v
