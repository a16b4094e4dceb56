"""Issue 7: the Transfer job — CRM deletions, catch-up for lost webhooks, one run at a time, late matches."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.simulators.common.faults import FaultSettings
from app.simulators.salesforce.formats import utc_now
from app.worker.queue import ArqQueue
from tests.e2e.conftest import delivery_rows, deployment
from tests.e2e.harness import (
    Org,
    World,
    account,
    activity,
    interactions,
    person,
    simulated_world,
    study,
    type_name,
)
from tests.processes import eventually

NO_CRON = {"BRIDGE_TRANSFER_INTERVAL_SECONDS": "3600"}  # runs happen when a test asks for them


async def runs(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT * FROM transfer_runs ORDER BY id"))).mappings())


async def run_transfer_once(engine: AsyncEngine, redis_url: str) -> dict[str, Any]:
    """Ask for a run as the scheduler would, and wait for it to finish."""
    before = len(await runs(engine))
    queue = ArqQueue(redis_url)
    try:
        await queue.enqueue("transfer_run")
    finally:
        await queue.close()
    done = await eventually(
        lambda: runs(engine), lambda rows: len(rows) > before and rows[-1]["status"] != "running", timeout=60
    )
    return dict(done[-1])


def medical_activities(world: World) -> list[dict[str, Any]]:
    return [
        r
        for r in world.vault.records_of("crm_activity__v")
        if type_name(world.vault, r) == "medical_activity__v"
    ]


def send_call(org: Org, account_id: str, subject: str = "Safety follow-up") -> str:
    call = org.state.create_record(
        "Call2_vod__c",
        {
            "Account_vod__c": account_id,
            "Call_Date_vod__c": "2026-11-18",
            "Call_Channel_vod__c": "Phone_vod",
            "Status_vod__c": "Submitted_vod",
            "Subject_vod__c": subject,
        },
    )
    org.state.send_call_to_vault(call["Id"])
    return str(call["Id"])


def status_of(record: dict[str, Any]) -> Any:
    value = record.get("status__v")
    return value[0] if isinstance(value, list) else value


async def test_a_deleted_call_is_inactivated_by_the_next_transfer_run_and_not_before(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org)
        async with deployment(world, clean_db, pg_url, redis_url, **NO_CRON):
            person(world.vault, "HCP-9")
            call_id = send_call(org, account(org, "HCP-9"))
            [med] = await eventually(lambda: _now(medical_activities(world)), lambda rows: len(rows) == 1)
            assert status_of(med) == "active__v"

            org.state.delete_record("Call2_vod__c", call_id)
            await eventually(
                lambda: delivery_rows(clean_db, "operation = 'inactivate_medical_activity'"),
                lambda rows: len(rows) == 1,
            )
            await asyncio.sleep(2)  # plenty of time for any worker to (wrongly) act on it
            assert status_of(medical_activities(world)[0]) == "active__v"
            assert [
                r["status"]
                for r in await delivery_rows(clean_db, "operation = 'inactivate_medical_activity'")
            ] == ["awaiting_transfer"]

            run = await run_transfer_once(clean_db, redis_url)
        assert run["status"] == "succeeded"
        assert status_of(medical_activities(world)[0]) == "inactive__v"
        assert run["counts"][f"{org.connection_id}/crm_activity__v"]["inactivated"] == 1


async def test_a_deletion_no_push_announced_is_applied_by_the_run_that_finds_it(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    """F4 with no pushed deletion (issue 15): org a sends Outbound Messages (which announce no deletion),
    org b sends nothing at all."""
    with simulated_world(salesforce_orgs=2) as world:
        a, b = world.orgs
        a.outbound_messages = True
        await world.connect(clean_db, a)
        await world.connect(clean_db, b)
        async with deployment(world, clean_db, pg_url, redis_url, **NO_CRON):
            b.state.emitter.enabled = False
            person(world.vault, "HCP-11")
            calls = {org.connection_id: send_call(org, account(org, "HCP-11")) for org in (a, b)}
            await run_transfer_once(clean_db, redis_url)  # finds b's call; a's came as an Outbound Message
            meds = await eventually(lambda: _now(medical_activities(world)), lambda rows: len(rows) == 2)
            assert {m["external_id__v"] for m in meds} == {f"{c}:{call}" for c, call in calls.items()}
            assert {status_of(m) for m in meds} == {"active__v"}
            assert {m["from__v"] for m in meds} == {"Ana Silva (ana.silva@example.com)"}  # read from each org

            for org in (a, b):
                org.state.delete_record("Call2_vod__c", calls[org.connection_id])
            # the org's deleted/ feed covers whole past minutes only (as Salesforce's does): wait for the next
            await asyncio.sleep(61 - utc_now().second)
            run = await run_transfer_once(clean_db, redis_url)
            assert run["status"] == "succeeded"
            for org in (a, b):
                assert run["counts"][f"{org.connection_id}/Call2_vod__c"]["seen"] == 1
            await eventually(
                lambda: _now({status_of(m) for m in medical_activities(world)}),
                lambda s: s == {"inactive__v"},
            )
        assert [e.type for e in a.state.emitter.log] == ["outbound_message"]  # and no webhook at all
        assert b.state.emitter.log == []


async def test_with_webhooks_off_one_run_catches_up_both_ways_and_a_second_changes_nothing(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org)
        async with deployment(world, clean_db, pg_url, redis_url, **NO_CRON):
            world.vault.emitter.enabled = False  # the webhook path is switched off entirely
            org.state.emitter.enabled = False
            person_id = person(world.vault, "HCP-7")
            account_id = account(org, "HCP-7")
            created = activity(world.vault, person_id, study(world.vault))
            call_id = send_call(org, account_id)
            await asyncio.sleep(1)
            assert interactions(org) == []
            assert medical_activities(world) == []

            first = await run_transfer_once(clean_db, redis_url)
            [interaction] = interactions(org)
            assert interaction["Vault_Activity_ID_vod__c"] == created["id"]
            [med] = medical_activities(world)
            assert med["external_id__v"] == f"{org.connection_id}:{call_id}"

            writes_to_crm = len(org.state.calls.matching("PATCH", "composite/sobjects"))
            writes_to_vault = len(world.vault.calls.matching("POST", "vobjects/crm_activity__v"))
            second = await run_transfer_once(clean_db, redis_url)
        assert first["status"] == second["status"] == "succeeded"
        assert first["counts"][f"{org.connection_id}/Vault_Clinical_Interaction_vod__c"]["created"] == 1
        assert first["counts"][f"{org.connection_id}/crm_activity__v"]["created"] == 1  # the Medical Activity
        assert len(org.state.calls.matching("PATCH", "composite/sobjects")) == writes_to_crm
        assert len(world.vault.calls.matching("POST", "vobjects/crm_activity__v")) == writes_to_vault
        for counts in second["counts"].values():
            assert not {"created", "updated", "inactivated", "failed"} & counts.keys(), second["counts"]


async def test_two_workers_asked_to_run_at_once_make_one_run(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org)
        async with deployment(world, clean_db, pg_url, redis_url, workers=2, **NO_CRON):
            org.state.configure_faults(FaultSettings(latency_ms=1500))  # a run that takes a while
            queue = ArqQueue(redis_url)
            try:
                await asyncio.gather(
                    queue.enqueue("transfer_run", job_id="tick-a"),
                    queue.enqueue("transfer_run", job_id="tick-b"),
                )
            finally:
                await queue.close()
            await eventually(
                lambda: runs(clean_db),
                lambda rows: len(rows) == 1 and rows[0]["status"] == "succeeded",
                timeout=60,
            )
            await asyncio.sleep(2)  # the other job has long given up by now
        assert len(await runs(clean_db)) == 1


async def test_a_person_whose_account_appears_later_is_delivered_at_the_next_run(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org, sync_studies_and_sites=False)
        async with deployment(world, clean_db, pg_url, redis_url, **NO_CRON):
            person_id = person(world.vault, "HCP-LATE")
            activity(world.vault, person_id, study(world.vault))
            [waiting] = await eventually(
                lambda: delivery_rows(clean_db, "operation = 'upsert_interaction'"),
                lambda rows: len(rows) == 1 and rows[0]["status"] == "unmatched",
            )
            assert waiting["last_error_code"] == "PERSON_NOT_MATCHED"

            account(org, "HCP-LATE")  # the CRM gets the account later
            await asyncio.sleep(1)
            assert interactions(org) == []  # nothing happens before a run
            await run_transfer_once(clean_db, redis_url)
        assert len(interactions(org)) == 1
        assert [r["status"] for r in await delivery_rows(clean_db, "operation = 'upsert_interaction'")] == [
            "delivered"
        ]


async def test_unmatched_deliveries_older_than_the_limit_become_dead_letters(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org, sync_studies_and_sites=False)
        async with deployment(world, clean_db, pg_url, redis_url, **NO_CRON):
            async with clean_db.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO global_settings (id, ctms_person_field, crm_account_field, automate_monitoring_events, automate_communication_log_items, retry_horizon_seconds, unmatched_max_age_seconds, updated_at) VALUES (1, 'external_id__v', 'External_ID_vod__c', false, false, 259200, 1, now())"
                    )
                )
            activity(world.vault, person(world.vault, "HCP-NEVER"), study(world.vault))
            await eventually(
                lambda: delivery_rows(clean_db, "status = 'unmatched'"), lambda rows: len(rows) == 1
            )
            await asyncio.sleep(1.5)
            await run_transfer_once(clean_db, redis_url)
        [dead] = await delivery_rows(clean_db, "operation = 'upsert_interaction'")
        assert (dead["status"], dead["last_error_code"]) == ("dead", "PERSON_NOT_MATCHED")


async def _now(value: Any) -> Any:
    return value


async def test_an_operator_starts_a_run_through_the_api(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    import httpx

    key = "operator-bootstrap-key-0123456789"
    with simulated_world() as world:
        await world.connect(clean_db, world.orgs[0])
        async with (
            deployment(world, clean_db, pg_url, redis_url, BRIDGE_ADMIN_API_KEY=key, **NO_CRON),
            httpx.AsyncClient() as client,
        ):
            headers = {"Authorization": f"Bearer {key}"}
            response = await client.post(f"{world.bridge_url}/api/v1/transfer-runs", headers=headers)
            assert response.status_code == 202, response.text
            run_id = response.json()["id"]

            async def read() -> dict[str, Any]:
                return dict(
                    (
                        await client.get(f"{world.bridge_url}/api/v1/transfer-runs/{run_id}", headers=headers)
                    ).json()
                )

            run = await eventually(read, lambda r: r["status"] not in ("queued", "running"))
            assert (run["status"], run["trigger"]) == ("succeeded", "manual")
            audit = (await client.get(f"{world.bridge_url}/api/v1/audit-log", headers=headers)).json()[
                "items"
            ]
            assert any(entry["action"] == "transfer_run.start" for entry in audit)


async def test_a_deletion_wins_over_an_older_upsert_still_waiting_for_its_account(
    clean_db: AsyncEngine, pg_url: str, redis_url: str
) -> None:
    """Issue 11 point 7: logged for a person with no account, deleted, then the account appears: the next
    run must not bring the deleted activity to life in the CRM."""
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org, sync_studies_and_sites=False)
        async with deployment(world, clean_db, pg_url, redis_url, **NO_CRON):
            person_id = person(world.vault, "HCP-GONE")
            created = activity(world.vault, person_id, study(world.vault))
            await eventually(
                lambda: delivery_rows(clean_db, "operation = 'upsert_interaction'"),
                lambda rows: len(rows) == 1 and rows[0]["status"] == "unmatched",
            )
            world.vault.user_delete("crm_activity__v", created["id"])
            await eventually(
                lambda: delivery_rows(clean_db, "operation = 'delete_interaction'"),
                lambda rows: len(rows) == 1 and rows[0]["status"] == "unchanged",
            )
            account(org, "HCP-GONE")
            await run_transfer_once(clean_db, redis_url)
            [upsert] = await eventually(
                lambda: delivery_rows(clean_db, "operation = 'upsert_interaction'"),
                lambda rows: rows[0]["status"] not in ("unmatched", "pending", "in_flight"),
            )
        assert upsert["status"] == "stale"
        assert interactions(org) == []
        async with clean_db.connect() as conn:
            [link] = (
                await conn.execute(
                    text("SELECT deleted, target_id FROM record_links WHERE source_id = :id"),
                    {"id": created["id"]},
                )
            ).all()
        assert (link.deleted, link.target_id) == (True, None)  # the tombstone the deletion left
