"""The embedded mode (no Redis): one process receives, plans and delivers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.harness import account, activity, bridge_server, interactions, person, simulated_world, study
from tests.processes import eventually


async def test_clinical_activity_reaches_the_crm_in_process(clean_db: AsyncEngine, pg_url: str) -> None:
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org)
        with bridge_server(world, pg_url, redis_url=None):
            person_id = person(world.vault, "HCP-000123")
            account_id = account(org, "HCP-000123")
            study_id = study(world.vault)
            created = activity(world.vault, person_id, study_id)

            async def found() -> list[dict]:
                return interactions(org)

            [interaction] = await eventually(found, lambda rows: len(rows) == 1, timeout=20)
    assert interaction["Vault_Activity_ID_vod__c"] == created["id"]
    assert interaction["Account_vod__c"] == account_id
    assert interaction["Call_Channel_vod__c"] == "Video_vod"
    assert interaction["Status_vod__c"] == "Submitted_vod"
    assert interaction["Subject_vod__c"] == "Protocol Q&A"
    assert interaction["Interaction_Date_vod__c"] == "2026-11-19"
    assert interaction["Clinical_Study_vod__c"]


async def test_a_jwt_bearer_connection_signs_in_and_delivers(clean_db: AsyncEngine, pg_url: str) -> None:
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org, auth="jwt_bearer")
        with bridge_server(world, pg_url, redis_url=None):
            person_id = person(world.vault, "HCP-000456")
            account_id = account(org, "HCP-000456")
            created = activity(world.vault, person_id, study(world.vault))

            async def found() -> list[dict]:
                return interactions(org)

            [interaction] = await eventually(found, lambda rows: len(rows) == 1, timeout=20)
    assert (interaction["Vault_Activity_ID_vod__c"], interaction["Account_vod__c"]) == (
        created["id"],
        account_id,
    )
    token_calls = [c for c in org.state.calls.calls if c.path == "/services/oauth2/token"]
    assert token_calls
    assert all(c.status == 200 for c in token_calls)  # signed in by assertion, never by a secret
    assert not org.state.clients  # no client secret was ever registered
