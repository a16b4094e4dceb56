"""Issue 14 point 3: a Vault CRM connection works with the defaults. Its accounts carry the identifier in
external_id__v (the global default names a Salesforce field): the first interaction is delivered, not
dead-lettered with "Invalid field [External_ID_vod__c] for query target [account__v]"."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.worker.queue import InProcessQueue
from tests.conftest import make_settings
from tests.e2e.harness import World, activity, any_account, interactions, person, simulated_world, study
from tests.services.test_pipeline import PARTITIONS, changed, plan_and_drain, statuses, store


@pytest.fixture
def world() -> Iterator[World]:
    with simulated_world(salesforce_orgs=0, vault_crm_orgs=1) as world:
        yield world


@pytest.fixture
async def resources(clean_db: AsyncEngine, pg_url: str, world: World) -> AsyncIterator[Resources]:
    settings = make_settings(pg_url, connection_concurrency=PARTITIONS, **world.settings_values())
    res = await Resources.open(settings, InProcessQueue({}))
    yield res
    await res.close()


async def test_a_vault_crm_connection_with_the_default_identifier_gets_its_interaction(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    [org] = world.orgs
    await world.connect(clean_db, org, sync_studies_and_sites=False)  # no identifier pair of its own
    account_id = any_account(org, "HCP-51")
    record = activity(world.vault, person(world.vault, "HCP-51"), study(world.vault))
    await store(resources, changed(record))
    await plan_and_drain(resources)

    assert await statuses(clean_db) == ["delivered"]
    [interaction] = interactions(org)
    assert str(interaction["account__v"]) == account_id
