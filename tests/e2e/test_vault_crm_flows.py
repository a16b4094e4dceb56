"""Issue 14: every flow on a Vault CRM connection, beside a Salesforce one (F8 on both: test_automation.py), with real `bridge worker`
processes on real PostgreSQL and Redis; events pushed, or no push at all (each change found by the
Transfer job's catch-up, a run started where the cron's would come)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import delivery_rows, deployment
from tests.e2e.harness import Org, activity, any_account, interactions, person, simulated_world, site, study
from tests.e2e.test_transfer import NO_CRON, medical_activities, run_transfer_once, send_call, status_of
from tests.processes import eventually

VAULT_CRM_MATCH = {"ctms_person_field": "external_id__v", "crm_account_field": "external_id__v"}


@dataclass(frozen=True)
class Expected:
    """What each platform calls the records the bridge writes (the product documentation's names)."""

    activity_id: str
    account: str
    subject: str
    interaction_study: str
    interaction_site: str
    study: str
    study_id: str
    study_name: str
    site: str
    site_id: str
    site_status: str
    study_status: str
    deleted: str


SALESFORCE = Expected(
    "Vault_Activity_ID_vod__c", "Account_vod__c", "Subject_vod__c", "Clinical_Study_vod__c",
    "Clinical_Site_vod__c", "Clinical_Study_vod__c", "Vault_Study_ID_vod__c", "Name", "Clinical_Site_vod__c",
    "Vault_Site_ID_vod__c", "Status_vod__c", "Status_vod__c", "Deleted_in_Vault_Clinical_vod",
)  # fmt: skip
VAULT_CRM = Expected(
    "vault_activity_id__v", "account__v", "subject__v", "clinical_study__v", "clinical_site__v",
    "clinical_study__v", "vault_study_id__v", "name__v", "clinical_site__v", "vault_site_id__v",
    "clinical_site_status__v", "clinical_study_status__v", "deleted_in_vault_clinical__v",
)  # fmt: skip


def expected(org: Org) -> Expected:
    return SALESFORCE if org.platform == "salesforce" else VAULT_CRM


def records(org: Org, object_name: str) -> list[dict[str, Any]]:
    if org.platform == "salesforce":
        return list(org.state.list_records(object_name))
    return list(org.state.records_of(object_name))


def one(value: Any) -> Any:
    """Vault answers picklists (and may answer lookups) as one-element lists."""
    return str(value[0] if isinstance(value, list) and len(value) == 1 else value)


def send_vault_crm_call(org: Org, account_id: str) -> str:
    """A call logged in Vault CRM and sent with "Send to Vault Clinical"."""
    call = org.state.user_create(
        "call2__v",
        {"account__v": account_id, "call_date__v": "2026-11-18", "call_channel__v": "email__v",
         "subject__v": "Safety follow-up", "call2_status__v": "submitted__v"},
    )  # fmt: skip
    org.state.send_to_vault_clinical(str(call["id"]))
    return str(call["id"])


@pytest.mark.parametrize("intake", ["webhooks", "poll"])
async def test_every_flow_on_a_vault_crm_and_a_salesforce_connection_at_once(
    clean_db: AsyncEngine, pg_url: str, redis_url: str, intake: str
) -> None:
    with simulated_world(salesforce_orgs=1, vault_crm_orgs=1) as world:
        salesforce, vault_crm = world.orgs
        await world.connect(clean_db, salesforce)
        await world.connect(clean_db, vault_crm, account_match=VAULT_CRM_MATCH)
        async with deployment(world, clean_db, pg_url, redis_url, **NO_CRON):
            vault = world.vault
            poll = intake == "poll"
            for emitter in (vault.emitter, salesforce.state.emitter, vault_crm.state.emitter):
                emitter.enabled = not poll

            async def transfer_run() -> None:  # poll only: what the next scheduled run would find
                if poll:
                    assert (await run_transfer_once(clean_db, redis_url))["status"] == "succeeded"

            person_id = person(vault, "HCP-000123")
            accounts = {org.platform: any_account(org, "HCP-000123") for org in world.orgs}
            study_id = study(vault, "VVT485-301")
            site_id = site(vault, study_id, "Site 101 Berlin")
            created = activity(vault, person_id, study_id, site__v=site_id)

            # F1, with F5/F6 parents first: one interaction per org, on that org's account and records
            await transfer_run()
            for org in world.orgs:
                x = expected(org)
                [row] = await eventually(lambda org=org: _now(interactions(org)), lambda rows: len(rows) == 1)
                [clinical_study] = records(org, x.study)
                [clinical_site] = records(org, x.site)
                assert (row[x.activity_id], one(row[x.account])) == (created["id"], accounts[org.platform])
                assert (clinical_study[x.study_id], clinical_study[x.study_name]) == (study_id, "VVT485-301")
                assert clinical_site[x.site_id] == site_id
                assert one(clinical_site[x.interaction_study]) == str(
                    clinical_study.get("Id", clinical_study.get("id"))
                )
                assert one(row[x.interaction_study]) == str(
                    clinical_study.get("Id", clinical_study.get("id"))
                )
                assert one(row[x.interaction_site]) == str(clinical_site.get("Id", clinical_site.get("id")))

            # F5/F6 again: the study and the site renamed in the CTMS are updated in both orgs, not re-created
            vault.user_update("study__v", study_id, {"name__v": "VVT485-301 (amended)"})
            vault.user_update("site__v", site_id, {"name__v": "Site 101 Berlin-Mitte"})
            await transfer_run()
            for org in world.orgs:
                x = expected(org)
                await eventually(
                    lambda org=org, x=x: _now(
                        [(r[x.study_name], len(records(org, x.site))) for r in records(org, x.study)]
                    ),
                    lambda rows: rows == [("VVT485-301 (amended)", 1)],
                )
                await eventually(
                    lambda org=org, x=x: _now([r[x.study_name] for r in records(org, x.site)]),
                    lambda names: names == ["Site 101 Berlin-Mitte"],
                )

            # F3: a call from each org becomes a Medical Activity, keyed by connection and call
            calls = {
                salesforce.connection_id: send_call(salesforce, accounts["salesforce"]),
                vault_crm.connection_id: send_vault_crm_call(vault_crm, accounts["vault"]),
            }
            await transfer_run()
            meds = await eventually(lambda: _now(medical_activities(world)), lambda rows: len(rows) == 2)
            assert {m["external_id__v"] for m in meds} == {f"{c}:{call}" for c, call in calls.items()}
            assert {m["person__v"] for m in meds} == {person_id}
            assert {status_of(m) for m in meds} == {"active__v"}
            assert all(m["from__v"] for m in meds)  # who logged each call, read from its own org

            # F9: the Medical Activities the vault announces are not sent back to a CRM (the CRM side of F9,
            # an interaction's own change coming back, is in tests/services/test_vault_crm_defaults.py: the
            # Vault CRM simulator announces only calls)
            await transfer_run()  # poll: a run after the writes finds them, as the bridge's own
            for med in meds:
                await eventually(lambda med=med: _echo_not_sent(clean_db, med["id"], poll), bool)
            assert [len(interactions(org)) for org in world.orgs] == [1, 1]

            # F4: a deleted call inactivates its Medical Activity when the transfer job runs (with no push,
            # Salesforce's deleted/ feed is tested in test_transfer: it needs a whole past minute)
            deleted = {vault_crm.connection_id: calls[vault_crm.connection_id]}
            vault_crm.state.user_delete("call2__v", calls[vault_crm.connection_id])
            if not poll:
                deleted[salesforce.connection_id] = calls[salesforce.connection_id]
                salesforce.state.delete_record("Call2_vod__c", calls[salesforce.connection_id])
            assert (await run_transfer_once(clean_db, redis_url))["status"] == "succeeded"
            inactive = {f"{c}:{call}" for c, call in deleted.items()}
            await eventually(
                lambda: _now({m["external_id__v"]: status_of(m) for m in medical_activities(world)}),
                lambda s: s == {k: "inactive__v" if k in inactive else "active__v" for k in s},
            )

            # F2: deleting the activity appends "Deleted" to the subject, in both orgs
            vault.user_delete("crm_activity__v", created["id"])
            await transfer_run()
            for org in world.orgs:
                subject = expected(org).subject
                await eventually(
                    lambda org=org, subject=subject: _now(interactions(org)[0][subject]),
                    lambda s: s == "Protocol Q&A Deleted",
                )

            # F7: deleting the site, then the study, marks the CRM's records, never removes them
            for object_name, record_id in (("site__v", site_id), ("study__v", study_id)):
                vault.user_delete(object_name, record_id)
                await transfer_run()
                for org in world.orgs:
                    x = expected(org)
                    target, status = (
                        (x.site, x.site_status) if object_name == "site__v" else (x.study, x.study_status)
                    )
                    await eventually(
                        lambda org=org, t=target, f=status: _now([one(r[f]) for r in records(org, t)]),
                        lambda s, x=x: s == [x.deleted],
                    )
        assert await delivery_rows(clean_db, "status = 'dead'") == []


async def _echo_not_sent(engine: AsyncEngine, record_id: str, poll: bool) -> bool:
    """Pushed, the vault's announcement is ignored; caught up, the bridge's own write may be left out, or
    fed and seen as the echo it is."""
    async with engine.connect() as conn:
        events = [r[0] for r in await conn.execute(text(SQL_EVENTS), {"id": record_id})]
        deliveries = [r[0] for r in await conn.execute(text(SQL_DELIVERIES), {"id": record_id})]
    return set(events) <= {"ignored"} and set(deliveries) <= {"unchanged"} and (poll or events == ["ignored"])


SQL_EVENTS = "SELECT status FROM inbox_events WHERE record_id = :id"
SQL_DELIVERIES = "SELECT status FROM deliveries WHERE source_id = :id"


async def _now(value: Any) -> Any:
    return value
