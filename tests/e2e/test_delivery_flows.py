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
from tests.processes import eventually

NPI_MATCH = {"ctms_person_field": "npi__v", "crm_account_field": "NPI_vod__c"}


def records(org: Any, object_name: str) -> list[dict[str, Any]]:
    return list(org.state.list_records(object_name))


@pytest.mark.parametrize("ctms_intake", ["webhooks", "spark"])
async def test_every_flow_both_ways_with_two_connections(
    clean_db: AsyncEngine, pg_url: str, redis_url: str, ctms_intake: CtmsIntake
) -> None:
    """With the vault's changes arriving as Standard Webhooks events or as Spark messages (issue 15)."""
    with simulated_world(salesforce_orgs=2) as world:
        world.vault.ctms_intake = ctms_intake
        a, b = world.orgs
        await world.connect(clean_db, a)  # the global identifier pair: external_id__v ↔ External_ID_vod__c
        await world.connect(clean_db, b, account_match=NPI_MATCH)  # its own pair: npi__v ↔ NPI_vod__c
        async with deployment(world, clean_db, pg_url, redis_url):
            vault = world.vault
            person_id = person(vault, "HCP-000123", npi__v="1234567890")
            account_a = account(a, "HCP-000123")
            account_b = account(b, "1234567890", "NPI_vod__c")
            study_id = study(vault, "VVT485-301")
            site_id = site(vault, study_id, "Site 101 Berlin")
            created = activity(
                vault, person_id, study_id, site__v=site_id, channel__v="phone__v", complete__v=False
            )

            # F1 (with F5/F6 parents first): one interaction per org, each with its own account
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
            await eventually(lambda: _echo_not_sent(clean_db, med["id"], thin=ctms_intake == "spark"), bool)
            assert len(interactions(a)) == 1
            assert len(interactions(b)) == 1

            # F2: deleting the activity appends "Deleted" to the subject, in both orgs
            vault.user_delete("crm_activity__v", created["id"])
            for org in (a, b):
                await eventually(
                    lambda org=org: _async(interactions(org)[0]["Subject_vod__c"]),
                    lambda s: s == "Protocol Q&A Deleted",
                )

            # F7: deleting the site marks the CRM's Clinical Site, never removes it
            vault.user_delete("site__v", site_id)
            for org in (a, b):
                await eventually(
                    lambda org=org: _async(records(org, "Clinical_Site_vod__c")[0]["Status_vod__c"]),
                    lambda s: s == "Deleted_in_Vault_Clinical_vod",
                )
        dead = await delivery_rows(clean_db, "status = 'dead'")
        assert dead == [], dead


async def _echo_not_sent(engine: AsyncEngine, record_id: str, *, thin: bool) -> bool:
    async with engine.connect() as conn:
        events = [r[0] for r in await conn.execute(text(SQL_EVENTS), {"id": record_id})]
        deliveries = [r[0] for r in await conn.execute(text(SQL_DELIVERIES), {"id": record_id})]
    if not thin:
        return events == ["ignored"] and deliveries == []
    return bool(deliveries) and set(deliveries) == {"unchanged"}


SQL_EVENTS = "SELECT status FROM inbox_events WHERE record_id = :id"
SQL_DELIVERIES = "SELECT status FROM deliveries WHERE source_id = :id"


async def _async(value: Any) -> Any:
    return value


def _value(v: Any) -> Any:
    """Vault answers picklists as one-element lists."""
    return v[0] if isinstance(v, list) and len(v) == 1 else v
