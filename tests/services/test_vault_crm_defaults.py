"""Issue 14 point 3: a Vault CRM connection works with the defaults. Its accounts carry the identifier in
external_id__v (the global default names a Salesforce field): the first interaction is delivered, not
dead-lettered with "Invalid field [External_ID_vod__c] for query target [account__v]"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from tests.e2e.harness import World, activity, any_account, interactions, person, simulated_world, study
from tests.services.test_pipeline import changed, plan_and_drain, statuses, store


@pytest.fixture
def world() -> Iterator[World]:
    with simulated_world(salesforce_orgs=0, vault_crm_orgs=1) as world:
        yield world


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


async def test_a_vault_crm_call_caught_up_keeps_who_it_is_from(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    from sqlalchemy import text

    from app.models import Connection, GlobalSettings, utcnow
    from app.services.delivery.matching import match_pair
    from app.services.names import crm_names_for
    from app.services.transfer.catchup import catch_up_crm

    [org] = world.orgs
    connection_id = await world.connect(clean_db, org, sync_studies_and_sites=False)
    org.state.emitter.enabled = False  # its webhook is lost: only catch-up brings the call in
    person(world.vault, "HCP-61")
    started = utcnow()
    call = org.state.user_create(
        "call2__v",
        {"account__v": any_account(org, "HCP-61"), "call_date__v": "2026-11-19", "call_channel__v": "video__v",
         "subject__v": "Protocol Q&A", "call2_status__v": "submitted__v"},
    )  # fmt: skip
    org.state.send_to_vault_clinical(str(call["id"]))

    async with resources.sessionmaker() as session:
        connection = await session.get(Connection, connection_id)
    assert connection is not None
    names = crm_names_for(connection)
    field = match_pair(connection, GlobalSettings()).crm_account_field
    got = await catch_up_crm(
        resources.clients.crm(connection), connection, names, field, resources.sessionmaker, started, utcnow()
    )
    assert got.seen == 1
    async with clean_db.connect() as conn:
        payload = (await conn.execute(text("SELECT payload FROM inbox_events"))).scalar_one()
    creator = payload["data"]["record"]["created_by__vr"]
    user = org.state.get("user__sys", call["created_by__v"]) or {}
    assert user  # the CRM user who logged the call
    assert (creator["first_name__sys"], creator["email__sys"]) == (
        user["first_name__sys"],
        user["email__sys"],
    )


async def test_a_vault_crm_interaction_coming_back_is_ignored_as_the_bridges_own_write(
    resources: Resources, world: World, clean_db: AsyncEngine
) -> None:
    """F9 on Vault CRM: a relay forwards a change of the Vault Clinical Interaction the bridge wrote. A
    Vault record names no object (no Salesforce ``attributes``): the interaction's external id says what it
    is. It is ignored as an echo, never planned as a call (where it ended a MISSING_FIELD dead letter)."""
    from sqlalchemy import text

    from app.domain.envelopes import validate_crm
    from app.services import intake

    [org] = world.orgs
    connection_id = await world.connect(clean_db, org, sync_studies_and_sites=False)
    any_account(org, "HCP-71")
    record = activity(world.vault, person(world.vault, "HCP-71"), study(world.vault))
    await store(resources, changed(record))
    await plan_and_drain(resources)
    [written] = interactions(org)
    echo = {
        "type": "crm.call.sent_to_vault",
        "timestamp": written["modified_date__v"],
        "data": {"record": org.state.present("vault_clinical_interaction__v", written)},
    }
    fields = validate_crm(echo)
    async with resources.sessionmaker() as session, session.begin():
        await intake.store_event(
            session, source="crm", sender=connection_id, connection_id=connection_id, webhook_id="msg_echo_1",
            document=echo, type_=fields.type, object_=fields.object, record_id=fields.record_id,
            source_modified_at=fields.source_modified_at,
        )  # fmt: skip
    await plan_and_drain(resources)

    assert await statuses(clean_db) == ["delivered"]  # the interaction only: nothing planned for the echo
    async with clean_db.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, error_code FROM inbox_events WHERE webhook_id = 'msg_echo_1'")
            )
        ).one()
    assert tuple(row) == ("ignored", "ECHO_OF_OWN_WRITE")
    assert len(world.vault.records_of("crm_activity__v")) == 1  # no Medical Activity made of it
