"""The CRM gateways (one face for Salesforce and Vault CRM) and the client registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from app.clients.crm import IN_CHUNK, SalesforceGateway, VaultCrmGateway, safe_name
from app.clients.errors import AuthError, PermanentError
from app.clients.registry import ClientRegistry
from app.clients.salesforce import SalesforceClient
from app.clients.vault import VaultClient
from app.config import Settings
from app.crypto import SecretBox
from app.simulators.salesforce import SalesforceState
from app.simulators.vault import VaultState
from tests.clients.conftest import (
    SF_CLIENT_ID,
    SF_CLIENT_SECRET,
    SF_LOGIN_URL,
    VAULT_ID,
    VAULT_PASSWORD,
    VAULT_URL,
    VAULT_USER,
    Rig,
    api_calls,
    vault_credentials,
)

SECRET_KEY = "client-tests-secret-key-0123456789"


def sf_account(state: SalesforceState, last_name: str, identifier: str | None = None) -> str:
    fields = {"FirstName": "Ana", "LastName": last_name, "External_ID_vod__c": identifier}
    return str(state.create_record("Account", {k: v for k, v in fields.items() if v is not None})["Id"])


def vault_account(state: VaultState, last_name: str, identifier: str | None = None) -> str:
    fields = {"first_name__v": "Ana", "last_name__v": last_name, "external_id__v": identifier}
    return str(state.user_create("account__v", {k: v for k, v in fields.items() if v is not None})["id"])


@pytest.fixture
def sf_gateway(sf_client: SalesforceClient) -> SalesforceGateway:
    return SalesforceGateway(sf_client)


@pytest.fixture
def vault_gateway(crm_vault_rig: Rig) -> VaultCrmGateway:
    return VaultCrmGateway(VaultClient(crm_vault_rig.http, vault_credentials()))


def _sorted(found: dict[str, list[str]]) -> dict[str, list[str]]:
    return {value: sorted(ids) for value, ids in found.items()}


# ---- Salesforce ----------------------------------------------------------------------------------------------


async def test_salesforce_find_by_field_gives_ids_per_value(
    sf_gateway: SalesforceGateway, sf_state: SalesforceState
) -> None:
    silva = sorted([sf_account(sf_state, "Silva"), sf_account(sf_state, "Silva")])
    obrien = sf_account(sf_state, "O'Brien")
    sf_account(sf_state, "Costa")

    found = await sf_gateway.find_by_field("Account", "LastName", ["Silva", "O'Brien", "Nobody", "Silva"])

    assert _sorted(found) == {"Silva": silva, "O'Brien": [obrien]}  # ambiguous, single, none


async def test_salesforce_find_by_field_queries_in_chunks(
    sf_gateway: SalesforceGateway, sf_state: SalesforceState
) -> None:
    values = [f"HCP-{i:03d}" for i in range(IN_CHUNK + 50)]
    first, last = sf_account(sf_state, "A", values[0]), sf_account(sf_state, "B", values[-1])

    found = await sf_gateway.find_by_field("Account", "External_ID_vod__c", values)

    assert found == {values[0]: [first], values[-1]: [last]}
    assert len(api_calls(sf_state, "/query")) == 2


async def test_salesforce_read_field(sf_gateway: SalesforceGateway, sf_state: SalesforceState) -> None:
    with_id = sf_account(sf_state, "Silva", "HCP-1")
    without = sf_account(sf_state, "Costa")

    values = await sf_gateway.read_field("Account", "External_ID_vod__c", [with_id, without, with_id])

    assert values == {with_id: "HCP-1", without: None}


async def test_salesforce_gateway_upserts_by_external_id(
    sf_gateway: SalesforceGateway, sf_state: SalesforceState
) -> None:
    result = await sf_gateway.upsert(
        "Clinical_Study_vod__c",
        "Vault_Study_ID_vod__c",
        [{"Vault_Study_ID_vod__c": "S-1", "Name": "STUDY-1"}],
    )

    assert [(r.ok, r.created) for r in result.results] == [(True, True)]
    assert sf_gateway.max_batch == 200
    [saved] = sf_state.list_records("Clinical_Study_vod__c")
    assert (saved["Id"], saved["Name"]) == (result.results[0].id, "STUDY-1")


# ---- Vault CRM --------------------------------------------------------------------------------------------------


async def test_vault_find_by_field_gives_ids_per_value(
    vault_gateway: VaultCrmGateway, crm_vault_state: VaultState
) -> None:
    silva = sorted([vault_account(crm_vault_state, "Silva"), vault_account(crm_vault_state, "Silva")])
    obrien = vault_account(crm_vault_state, "O'Brien")
    vault_account(crm_vault_state, "Costa")

    found = await vault_gateway.find_by_field("account__v", "last_name__v", ["Silva", "O'Brien", "Nobody"])

    assert _sorted(found) == {"Silva": silva, "O'Brien": [obrien]}


async def test_vault_read_field(vault_gateway: VaultCrmGateway, crm_vault_state: VaultState) -> None:
    with_id = vault_account(crm_vault_state, "Silva", "HCP-1")
    without = vault_account(crm_vault_state, "Costa")

    values = await vault_gateway.read_field(
        "account__v", "external_id__v", [with_id, without, "V0A000000009999"]
    )

    assert values == {with_id: "HCP-1", without: None}


async def test_vault_gateway_upserts_by_id_field(
    vault_gateway: VaultCrmGateway, crm_vault_state: VaultState
) -> None:
    records = [{"vault_study_id__v": "S-1", "name__v": "STUDY-1"}]

    created = await vault_gateway.upsert("clinical_study__v", "vault_study_id__v", records)
    again = await vault_gateway.upsert("clinical_study__v", "vault_study_id__v", records)

    assert [(r.ok, r.created) for r in created.results] == [(True, True)]
    assert [(r.ok, r.unchanged, r.id) for r in again.results] == [(True, True, created.results[0].id)]
    assert vault_gateway.max_batch == 500
    assert len(crm_vault_state.records_of("clinical_study__v")) == 1


# ---- names in queries ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Last Name", "LastName'", "Name) OR (Id", "x__c;DELETE", "", "1field"])
def test_safe_name_rejects_what_is_not_an_identifier(name: str) -> None:
    with pytest.raises(ValueError, match="not an object or field name"):
        safe_name(name)


def test_safe_name_accepts_fields_and_relationship_paths() -> None:
    for name in ("LastName", "External_ID_vod__c", "person__vr.external_id__v", "Account_vod__r.Name"):
        assert safe_name(name) == name


async def test_gateways_refuse_unsafe_names_before_any_call(
    sf_gateway: SalesforceGateway,
    vault_gateway: VaultCrmGateway,
    sf_state: SalesforceState,
    crm_vault_state: VaultState,
) -> None:
    attempts: list[Any] = [
        sf_gateway.find_by_field("Account", "Last Name", ["x"]),
        sf_gateway.read_field("Account WHERE Id != null", "Name", ["001"]),
        vault_gateway.find_by_field("account__v", "last_name__v'", ["x"]),
        vault_gateway.read_field("account__v", "name__v, (SELECT", ["V0A"]),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError, match="not an object or field name"):
            await attempt

    assert sf_state.calls.calls == []
    assert crm_vault_state.calls.calls == []


# ---- the registry -------------------------------------------------------------------------------------------------


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "sqlite+aiosqlite:///:memory:",
        "secret_key": SECRET_KEY,
        "vault_url": None,
        "vault_username": None,
        "vault_password": None,
        "vault_id": None,
    }
    return Settings(_env_file=None, **{**values, **overrides})


def connection(
    platform: str = "salesforce", *, secret: str = SF_CLIENT_SECRET, **crm: Any
) -> SimpleNamespace:
    box = SecretBox(SECRET_KEY)
    if platform == "vault":
        crm = {"vault_url": VAULT_URL, "username": VAULT_USER, "vault_id": VAULT_ID, **crm}
        sealed = box.seal({"password": secret})
    else:
        crm = {"login_url": SF_LOGIN_URL, "client_id": SF_CLIENT_ID, **crm}
        sealed = box.seal({"client_secret": secret})
    return SimpleNamespace(
        id="conn-1",
        platform=platform,
        crm=crm,
        secrets_encrypted=sealed,
        updated_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    )


async def test_registry_reuses_a_gateway_until_the_connection_changes(
    sf_rig: Rig, sf_state: SalesforceState
) -> None:
    registry = ClientRegistry(sf_rig.http, settings())
    conn = connection(secret="wrong-secret")
    account = sf_account(sf_state, "O'Brien")

    stale = registry.crm(conn)
    with pytest.raises(AuthError):
        await stale.find_by_field("Account", "LastName", ["O'Brien"])
    conn.secrets_encrypted = SecretBox(SECRET_KEY).seal({"client_secret": SF_CLIENT_SECRET})
    assert registry.crm(conn) is stale  # same updated_at: the cached gateway

    conn.updated_at += timedelta(seconds=1)  # the operator saved the fixed secret
    fresh = registry.crm(conn)

    assert fresh is not stale
    assert isinstance(fresh, SalesforceGateway)
    assert fresh.target == "crm:conn-1"
    assert await fresh.find_by_field("Account", "LastName", ["O'Brien"]) == {"O'Brien": [account]}
    assert registry.crm(conn) is fresh


async def test_registry_keeps_one_gateway_per_connection(sf_rig: Rig) -> None:
    registry = ClientRegistry(sf_rig.http, settings())
    first, second = connection(), connection()
    second.id = "conn-2"

    assert registry.crm(first) is registry.crm(first)
    assert registry.crm(second) is not registry.crm(first)
    assert registry.crm(second).target == "crm:conn-2"


async def test_registry_builds_a_vault_crm_gateway(crm_vault_rig: Rig, crm_vault_state: VaultState) -> None:
    registry = ClientRegistry(crm_vault_rig.http, settings())
    account = vault_account(crm_vault_state, "Silva", "HCP-1")

    gateway = registry.crm(connection("vault", secret=VAULT_PASSWORD))

    assert isinstance(gateway, VaultCrmGateway)
    assert await gateway.find_by_field("account__v", "external_id__v", ["HCP-1"]) == {"HCP-1": [account]}


def test_registry_refuses_an_unknown_platform(sf_rig: Rig) -> None:
    with pytest.raises(PermanentError) as caught:
        ClientRegistry(sf_rig.http, settings()).crm(connection("dynamics"))

    assert caught.value.code == "UNKNOWN_PLATFORM"


async def test_registry_ctms_client_is_one_per_process(vault_rig: Rig, vault_state: VaultState) -> None:
    registry = ClientRegistry(
        vault_rig.http,
        settings(
            vault_url=VAULT_URL, vault_username=VAULT_USER, vault_password=VAULT_PASSWORD, vault_id=VAULT_ID
        ),
    )

    ctms = registry.ctms()
    await ctms.describe("study__v")
    await registry.ctms().describe("site__v")

    assert registry.ctms() is ctms
    assert ctms.target == "ctms"
    assert len(api_calls(vault_state, "/auth")) == 1  # the session is shared by every job


def test_registry_without_vault_settings_refuses_ctms(vault_rig: Rig) -> None:
    registry = ClientRegistry(vault_rig.http, settings(vault_url=VAULT_URL, vault_username=VAULT_USER))

    with pytest.raises(PermanentError) as caught:
        registry.ctms()

    assert caught.value.code == "CTMS_NOT_CONFIGURED"
