"""POST …/test: logs in to the CRM and the CTMS (our simulators, over real sockets) and says what is missing."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.simulators.common.server import ServerThread
from app.simulators.salesforce.app import create_salesforce_app
from app.simulators.salesforce.state import API_USERNAME, SalesforceState
from app.simulators.vault import create_vault_app
from app.simulators.vault.default_schemas import schema_for
from app.simulators.vault.schema import SchemaRegistry
from app.simulators.vault.state import VaultConfig, VaultState
from tests.api.operator.conftest import ADMIN_KEY, Api
from tests.conftest import make_settings, running_app
from tests.jwt_keys import key_pair

VAULT_USER, VAULT_PASSWORD = "integration@sim.example.com", "integration-password"
SF_SECRET = "bridge-client-secret"


@dataclass
class Sims:
    salesforce: str
    ctms: str
    vault_crm: str
    org: SalesforceState


@pytest.fixture(scope="module")
def sims() -> Iterator[Sims]:
    org = SalesforceState()
    org.register_client("bridge-client", SF_SECRET)
    org.register_jwt_client("bridge-jwt-client", key_pair().certificate)
    with (
        ServerThread(create_salesforce_app(org)) as salesforce,
        ServerThread(create_vault_app(flavor="ctms")) as ctms,
        ServerThread(create_vault_app(flavor="crm")) as vault_crm,
    ):
        yield Sims(salesforce.url, ctms.url, vault_crm.url, org)


@asynccontextmanager
async def bridge(pg_url: str, ctms_url: str) -> AsyncIterator[Api]:
    settings = make_settings(
        pg_url, admin_api_key=ADMIN_KEY, vault_url=ctms_url, vault_username=VAULT_USER,
        vault_password=VAULT_PASSWORD, vault_id="4242",
    )  # fmt: skip
    async with running_app(create_app(settings)) as client:
        yield Api(client, {"admin": ADMIN_KEY})


@pytest.fixture
async def tester(clean_db: AsyncEngine, pg_url: str, sims: Sims) -> AsyncIterator[Api]:
    async with bridge(pg_url, sims.ctms) as api:
        yield api


@contextmanager
def without_fields(org: SalesforceState, object_name: str, *fields: str) -> Iterator[None]:
    """The org as if the integration user could not see ``fields`` (put back afterwards)."""
    obj = org.schema.objects[object_name]
    saved = [obj.fields[f] for f in fields]
    for f in fields:
        org.schema.remove_field(object_name, f)
    try:
        yield
    finally:
        for field_def in saved:
            org.schema.set_field(object_name, field_def)


_numbers = itertools.count(1)


async def run_test(api: Api, body: dict[str, Any]) -> tuple[bool, dict[str, tuple[bool, str]]]:
    created = await api.post("/api/v1/connections", {"name": f"Under test {next(_numbers)}", **body})
    assert created.status_code == 201, created.text
    response = await api.post(f"/api/v1/connections/{created.json()['id']}/test")
    assert response.status_code == 200, response.text
    report = response.json()
    return report["ok"], {c["name"]: (c["ok"], c["detail"]) for c in report["checks"]}


def salesforce(sims: Sims, secret: str = SF_SECRET, **extra: Any) -> dict[str, Any]:
    crm = {"login_url": sims.salesforce, "client_id": "bridge-client", "client_secret": secret}
    return {"platform": "salesforce", "crm": crm, **extra}


async def test_a_well_configured_connection_passes_every_check(tester: Api, sims: Sims) -> None:
    ok, checks = await run_test(tester, salesforce(sims))
    assert ok, checks
    assert {"crm.login", "crm.Vault_Clinical_Interaction_vod__c", "crm.Clinical_Study_vod__c", "crm.Account",
            "crm.Call2_vod__c", "crm.Call2_vod__c.CreatedBy",
            "ctms.login", "ctms.crm_activity__v", "ctms.person__sys", "ctms.study__v", "ctms.site__v",
            "ctms.user__sys", "ctms.monitoring_event__v", "ctms.study_communication_log__ctms"} <= set(checks)  # fmt: skip
    assert all(passed for passed, _ in checks.values())
    assert checks["crm.Call2_vod__c.CreatedBy"] == (True, "3 fields present and readable")


async def test_a_call_without_the_sent_flag_or_its_datetime_is_named(tester: Api, sims: Sims) -> None:
    # Catch-up selects the calls marked sent, with their datetime: without either it fails in every run.
    with without_fields(sims.org, "Call2_vod__c", "Sent_to_Vault_Clinical_vod__c", "Call_Datetime_vod__c"):
        ok, checks = await run_test(tester, salesforce(sims))
    assert not ok
    assert checks["crm.Call2_vod__c"] == (
        False,
        "missing fields: Call_Datetime_vod__c, Sent_to_Vault_Clinical_vod__c",
    )
    assert checks["crm.Vault_Clinical_Interaction_vod__c"][0] is True


async def test_an_overridden_sent_flag_is_the_one_checked(tester: Api, sims: Sims) -> None:
    names = {"call": {"fields": {"sent_to_vault": "Sent_to_CTMS__c"}}}
    ok, checks = await run_test(tester, salesforce(sims, object_names=names))
    assert not ok
    assert checks["crm.Call2_vod__c"] == (False, "missing fields: Sent_to_CTMS__c")


async def test_the_creator_read_through_createdby_is_checked(tester: Api, sims: Sims) -> None:
    # An activity's "From" is the call creator's name and email, read through CreatedBy.
    with without_fields(sims.org, "User", "Email"):
        ok, checks = await run_test(tester, salesforce(sims))
    assert not ok
    assert checks["crm.Call2_vod__c.CreatedBy"] == (
        False,
        "CreatedById references User: missing fields: Email",
    )
    with without_fields(sims.org, "Call2_vod__c", "CreatedById"):
        ok, checks = await run_test(tester, salesforce(sims))
    assert checks["crm.Call2_vod__c"] == (False, "missing fields: CreatedById")


async def test_a_vault_without_the_communication_log_object_is_named(
    clean_db: AsyncEngine, pg_url: str, sims: Sims
) -> None:
    registry = SchemaRegistry(o for o in schema_for("ctms") if o.name != "study_communication_log__ctms")
    vault = VaultState(config=VaultConfig(flavor="ctms"), schema=registry)
    with ServerThread(create_vault_app(vault)) as ctms:
        async with bridge(pg_url, ctms.url) as api:
            ok, checks = await run_test(api, salesforce(sims))
    assert not ok
    passed, detail = checks["ctms.study_communication_log__ctms"]
    assert not passed
    assert "study_communication_log__ctms" in detail
    failed = {name for name, (passed, _) in checks.items() if not passed}
    assert failed == {"ctms.study_communication_log__ctms"}  # the other objects are still checked


async def test_a_jwt_bearer_connection_signs_in_and_passes(tester: Api, sims: Sims) -> None:
    crm = {
        "login_url": sims.salesforce,
        "auth": "jwt_bearer",
        "client_id": "bridge-jwt-client",
        "username": API_USERNAME,
        "private_key": key_pair().private_key,
    }
    ok, checks = await run_test(tester, {"platform": "salesforce", "crm": crm})
    assert ok, checks
    assert checks["crm.login"] == (True, "logged in")
    intruder = {**crm, "private_key": key_pair("intruder").private_key}
    ok, checks = await run_test(tester, {"platform": "salesforce", "crm": intruder})
    assert not ok
    assert checks["crm.login"] == (False, "INVALID_GRANT: salesforce token refused: invalid assertion")


async def test_client_credentials_saved_with_the_shared_login_host_are_named_without_signing_in(
    tester: Api, sims: Sims, clean_db: AsyncEngine
) -> None:
    created = await tester.post("/api/v1/connections", {"name": "Saved long ago", **salesforce(sims)})
    connection_id = created.json()["id"]
    async with clean_db.begin() as conn:  # as saved before login.salesforce.com was refused
        await conn.execute(
            text(
                "UPDATE connections SET crm = jsonb_set(crm::jsonb, '{login_url}', :url)::json WHERE id = :id"
            ),
            {"url": '"https://login.salesforce.com"', "id": connection_id},
        )
    report = (await tester.post(f"/api/v1/connections/{connection_id}/test")).json()
    checks = {c["name"]: (c["ok"], c["detail"]) for c in report["checks"]}
    assert report["ok"] is False
    passed, detail = checks["crm.configured"]
    assert not passed
    assert detail.startswith(
        "MY_DOMAIN_REQUIRED: the client credentials flow signs in at the org's My Domain URL"
    )
    assert "crm.login" not in checks  # no sign-in attempt at a host that refuses it
    assert checks["ctms.login"] == (True, "logged in")


async def test_a_refused_login_is_named_and_the_ctms_is_still_checked(tester: Api, sims: Sims) -> None:
    ok, checks = await run_test(tester, salesforce(sims, secret="wrong-secret"))
    assert not ok
    passed, detail = checks["crm.login"]
    assert not passed
    assert "INVALID_CLIENT" in detail
    assert "crm.Vault_Clinical_Interaction_vod__c" not in checks  # nothing to describe without a login
    assert checks["ctms.login"] == (True, "logged in")


async def test_missing_fields_and_objects_are_named(tester: Api, sims: Sims) -> None:
    names = {
        "interaction": {"fields": {"subject": "Subject_Line__c"}},
        "clinical_study": {"object": "Study__c"},
    }
    ok, checks = await run_test(tester, salesforce(sims, object_names=names))
    assert not ok
    assert checks["crm.Vault_Clinical_Interaction_vod__c"] == (False, "missing fields: Subject_Line__c")
    passed, detail = checks["crm.Study__c"]
    assert not passed
    assert "object Study__c does not exist" in detail
    assert checks["crm.Clinical_Site_vod__c"][0] is True


async def test_a_vault_crm_connection_checks_the_vault_id_and_its_identifier_field(
    tester: Api, sims: Sims
) -> None:
    crm = {
        "vault_url": sims.vault_crm,
        "username": VAULT_USER,
        "password": VAULT_PASSWORD,
        "vault_id": "9999",
    }
    ok, checks = await run_test(tester, {"platform": "vault", "crm": crm})
    assert not ok
    passed, detail = checks["crm.login"]
    assert not passed
    assert "VAULT_ID_MISMATCH" in detail
    connection = (await tester.get("/api/v1/connections")).json()["items"][0]
    await tester.patch(f"/api/v1/connections/{connection['id']}", {"crm": {"vault_id": "4242"}})
    report = (await tester.post(f"/api/v1/connections/{connection['id']}/test")).json()
    checks = {c["name"]: (c["ok"], c["detail"]) for c in report["checks"]}
    assert checks["crm.login"] == (True, "logged in")
    assert checks["crm.account__v"][0] is True  # Vault CRM accounts: external_id__v by default
    assert report["ok"] is True
    pair = {"ctms_person_field": "external_id__v", "crm_account_field": "npi_number__v"}
    await tester.patch(f"/api/v1/connections/{connection['id']}", {"account_match": pair})
    report = (await tester.post(f"/api/v1/connections/{connection['id']}/test")).json()
    checks = {c["name"]: (c["ok"], c["detail"]) for c in report["checks"]}
    assert checks["crm.account__v"] == (False, "missing fields: npi_number__v")


CHANNEL_CHECK = "crm.Vault_Clinical_Interaction_vod__c.Call_Channel_vod__c"


async def test_the_picklist_values_the_bridge_writes_are_checked(tester: Api, sims: Sims) -> None:
    ok, checks = await run_test(tester, salesforce(sims))
    assert ok, checks
    assert checks[CHANNEL_CHECK] == (True, "6 picklist values the bridge writes are active")
    assert checks["crm.Vault_Clinical_Interaction_vod__c.Status_vod__c"][0] is True
    assert checks["crm.Clinical_Study_vod__c.Phase_vod__c"][0] is True
    assert checks["crm.Clinical_Site_vod__c.Status_vod__c"][0] is True


async def test_a_deactivated_crm_picklist_value_is_named(tester: Api, sims: Sims) -> None:
    switch = (
        f"{sims.salesforce}/_sim/picklists/Vault_Clinical_Interaction_vod__c/Call_Channel_vod__c/Message_vod"
    )
    async with httpx.AsyncClient() as http:
        assert (await http.delete(switch)).status_code == 200
        try:
            ok, checks = await run_test(tester, salesforce(sims))
        finally:
            assert (await http.put(switch)).status_code == 200
    assert not ok
    passed, detail = checks[CHANNEL_CHECK]
    assert not passed
    assert "missing or inactive in the CRM: Message_vod (for chat_text)" in detail
    assert checks["crm.Vault_Clinical_Interaction_vod__c"][0] is True  # the fields themselves are fine


async def test_a_connection_picklist_override_is_checked_against_the_crm(tester: Api, sims: Sims) -> None:
    names = {"picklists": {"phase": {"phase_2": "Phase_II_vod"}, "site_status": {"completed": "Done_vod"}}}
    ok, checks = await run_test(tester, salesforce(sims, object_names=names))
    assert not ok
    assert "Phase_II_vod (for phase_2)" in checks["crm.Clinical_Study_vod__c.Phase_vod__c"][1]
    passed, detail = checks["crm.Clinical_Site_vod__c.Status_vod__c"]
    assert not passed
    assert "Done_vod (for completed)" in detail
    assert "Closed_vod" not in detail  # closed still maps to an active value


async def test_a_vault_crm_inactive_picklist_value_is_named(tester: Api, sims: Sims) -> None:
    crm = {
        "vault_url": sims.vault_crm,
        "username": VAULT_USER,
        "password": VAULT_PASSWORD,
        "vault_id": "4242",
    }
    pair = {"ctms_person_field": "external_id__v", "crm_account_field": "external_id__v"}
    body = {"platform": "vault", "crm": crm, "account_match": pair}
    switch = f"{sims.vault_crm}/_sim/picklists/clinical_study__v/phase__v/phase_4__v"
    async with httpx.AsyncClient() as http:
        assert (await http.delete(switch)).status_code == 200
        try:
            ok, checks = await run_test(tester, body)
        finally:
            assert (await http.put(switch)).status_code == 200
    assert not ok
    passed, detail = checks["crm.clinical_study__v.phase__v"]
    assert not passed
    assert "phase_4__v (for phase_4)" in detail
    assert checks["crm.vault_clinical_interaction__v.call_channel__v"] == (
        True,
        "6 picklist values the bridge writes are active",
    )
