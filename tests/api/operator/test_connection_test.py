"""POST …/test: logs in to the CRM and the CTMS (our simulators, over real sockets) and says what is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.simulators.common.server import ServerThread
from app.simulators.salesforce.app import create_salesforce_app
from app.simulators.salesforce.state import SalesforceState
from app.simulators.vault import create_vault_app
from tests.api.operator.conftest import ADMIN_KEY, Api
from tests.conftest import make_settings, running_app

VAULT_USER, VAULT_PASSWORD = "integration@sim.example.com", "integration-password"
SF_SECRET = "bridge-client-secret"


@dataclass
class Sims:
    salesforce: str
    ctms: str
    vault_crm: str


@pytest.fixture(scope="module")
def sims() -> Iterator[Sims]:
    org = SalesforceState()
    org.register_client("bridge-client", SF_SECRET)
    with (
        ServerThread(create_salesforce_app(org)) as salesforce,
        ServerThread(create_vault_app(flavor="ctms")) as ctms,
        ServerThread(create_vault_app(flavor="crm")) as vault_crm,
    ):
        yield Sims(salesforce.url, ctms.url, vault_crm.url)


@pytest.fixture
async def tester(clean_db: AsyncEngine, pg_url: str, sims: Sims) -> AsyncIterator[Api]:
    settings = make_settings(
        pg_url, admin_api_key=ADMIN_KEY, vault_url=sims.ctms, vault_username=VAULT_USER,
        vault_password=VAULT_PASSWORD, vault_id="4242",
    )  # fmt: skip
    async with running_app(create_app(settings)) as client:
        yield Api(client, {"admin": ADMIN_KEY})


async def run_test(api: Api, body: dict[str, Any]) -> tuple[bool, dict[str, tuple[bool, str]]]:
    created = await api.post("/api/v1/connections", {"name": "Under test", **body})
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
            "ctms.login", "ctms.crm_activity__v", "ctms.person__sys"} <= set(checks)  # fmt: skip
    assert all(passed for passed, _ in checks.values())


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
