"""A whole deployment on one machine: the CTMS vault simulator, CRM simulators, the bridge's API as a real
server, and (in the tests that ask for it) real `bridge worker` processes.

The simulators send their signed events to the bridge's webhook endpoints, exactly as the real systems do.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.api.webhooks.outbound_messages import outbound_message_path
from app.main import create_app
from app.simulators.common.server import ServerThread
from app.simulators.salesforce.app import create_salesforce_app
from app.simulators.salesforce.state import API_USERNAME, SalesforceState
from app.simulators.vault.app import create_vault_app
from app.simulators.vault.state import VaultConfig, VaultState
from tests.conftest import TEST_CTMS_SECRET, make_settings
from tests.factories import add_connection
from tests.jwt_keys import key_pair

VAULT_USER = "integration@sim.example.com"
VAULT_PASSWORD = "integration-password"
SF_CLIENT_SECRET = "bridge-client-secret-0123456789"


@dataclass
class Org:
    """One CRM connection and the simulated org behind it."""

    state: Any  # SalesforceState, or VaultState of the crm flavor
    url: str
    platform: str
    connection_id: str = ""
    webhook_secret: str = ""
    client_id: str = field(default_factory=lambda: f"client-{uuid.uuid4().hex[:8]}")
    outbound_messages: bool = False  # Salesforce: calls arrive as Outbound Messages, not webhooks


@dataclass
class World:
    vault: VaultState
    vault_url: str
    orgs: list[Org]
    bridge_url: str = ""

    def settings_values(self) -> dict[str, Any]:
        return {
            "vault_url": self.vault_url,
            "vault_username": VAULT_USER,
            "vault_password": VAULT_PASSWORD,
            "vault_id": str(self.vault.config.vault_id),
        }

    def worker_env(self) -> dict[str, str]:
        return {f"BRIDGE_{k.upper()}": v for k, v in self.settings_values().items()}

    async def connect(
        self, engine: AsyncEngine, org: Org, *, auth: str = "client_credentials", **kw: Any
    ) -> str:
        """Create (and activate) the bridge connection for an org, and point the org's events at the bridge.
        A Salesforce org signs the bridge in by client credentials, or with ``auth="jwt_bearer"`` by a
        signed assertion (the org holds the certificate of ``key_pair()``)."""
        if org.platform == "salesforce" and auth == "jwt_bearer":
            org.state.register_jwt_client(org.client_id, key_pair().certificate)
            crm = {"login_url": org.url, "auth": auth, "client_id": org.client_id, "username": API_USERNAME}
            credentials = {"private_key": key_pair().private_key}
        elif org.platform == "salesforce":
            org.state.register_client(org.client_id, SF_CLIENT_SECRET)
            crm = {"login_url": org.url, "client_id": org.client_id, "api_version": "v62.0"}
            credentials = {"client_secret": SF_CLIENT_SECRET}
        else:
            crm = {
                "vault_url": org.url,
                "username": VAULT_USER,
                "vault_id": str(org.state.config.vault_id),
                "api_version": "v25.2",
            }
            credentials = {"password": VAULT_PASSWORD}
        async with AsyncSession(engine, expire_on_commit=False) as session:
            connection, [secret] = await add_connection(
                session, platform=org.platform, crm=crm, credentials=credentials, **kw
            )
            await session.commit()
        org.connection_id, org.webhook_secret = connection.id, secret
        if self.bridge_url:
            self.wire(org)
        return connection.id

    def wire(self, org: Org) -> None:
        if org.platform == "salesforce" and org.outbound_messages:  # and no webhooks at all
            path = outbound_message_path(org.connection_id, org.webhook_secret)
            org.state.configure_outbound_messages(self.bridge_url + path)
        elif org.platform == "salesforce":
            org.state.configure_webhook(self.bridge_url, org.webhook_secret, org.connection_id)
        else:
            org.state.configure_webhook(self.bridge_url, org.webhook_secret, connection_id=org.connection_id)


@contextmanager
def simulated_world(salesforce_orgs: int = 1, vault_crm_orgs: int = 0) -> Iterator[World]:
    with ExitStack() as stack:
        vault = VaultState()
        vault_server = stack.enter_context(ServerThread(create_vault_app(vault)))
        orgs: list[Org] = []
        for _ in range(salesforce_orgs):
            state = SalesforceState()
            server = stack.enter_context(ServerThread(create_salesforce_app(state)))
            orgs.append(Org(state, server.url, "salesforce"))
        for n in range(vault_crm_orgs):
            crm_vault = VaultState(config=VaultConfig(flavor="crm", vault_id=5000 + n))
            server = stack.enter_context(ServerThread(create_vault_app(crm_vault)))
            orgs.append(Org(crm_vault, server.url, "vault"))
        yield World(vault, vault_server.url, orgs)


@contextmanager
def bridge_server(world: World, pg_url: str, redis_url: str | None, **overrides: Any) -> Iterator[str]:
    """The bridge's API as a real server; the vault's events are pointed at it."""
    settings = make_settings(pg_url, redis_url=redis_url, **{**world.settings_values(), **overrides})
    with ServerThread(create_app(settings)) as server:
        world.bridge_url = server.url
        world.vault.configure_webhook(server.url, TEST_CTMS_SECRET)
        for org in world.orgs:
            if org.connection_id:
                world.wire(org)
        yield server.url


# ---- seed data, as people would enter it ---------------------------------------------------------------


def person(vault: VaultState, identifier: str, **fields: Any) -> str:
    record = vault.user_create(
        "person__sys",
        {"first_name__sys": "Rosa", "last_name__sys": "Lind", "external_id__v": identifier, **fields},
    )
    return str(record["id"])


def account(org: Org, identifier: str, field_name: str = "External_ID_vod__c") -> str:
    if org.platform == "salesforce":
        return str(org.state.create_record("Account", {"Name": "Dr Rosa Lind", field_name: identifier})["Id"])
    return str(
        org.state.user_create("account__v", {"name__v": "Dr Rosa Lind", "external_id__v": identifier})["id"]
    )


def study(vault: VaultState, name: str = "VVT485-301", **fields: Any) -> str:
    return str(vault.user_create("study__v", {"name__v": name, **fields})["id"])


def site(vault: VaultState, study_id: str, name: str = "Site 101 Berlin", **fields: Any) -> str:
    return str(vault.user_create("site__v", {"name__v": name, "study__v": study_id, **fields})["id"])


def type_id(vault: VaultState, name: str) -> str:
    """The id of an Activity object type: what a vault's records carry in object_type__v."""
    return vault.object_type_id("crm_activity__v", name)


def type_name(vault: VaultState, record: dict[str, Any]) -> str | None:
    """An Activity's object type by name (the record carries the id)."""
    return vault.object_type_name("crm_activity__v", record.get("object_type__v"))


def activity(
    vault: VaultState, person_id: str, study_id: str, *, kind: str = "clinical_activity__v", **fields: Any
) -> dict[str, Any]:
    values = {
        "object_type__v": type_id(vault, kind),
        "person__v": person_id,
        "study__v": study_id,
        "activity_date__v": "2026-11-19",
        "channel__v": "video__v",
        "complete__v": True,
        "subject__v": "Protocol Q&A",
        **fields,
    }
    return vault.user_create("crm_activity__v", values)


def interactions(org: Org) -> list[dict[str, Any]]:
    if org.platform == "salesforce":
        return list(org.state.list_records("Vault_Clinical_Interaction_vod__c"))
    return list(org.state.records_of("vault_clinical_interaction__v"))


# ---- F8 automation: settings and source records --------------------------------------------------------


async def automation_switches(
    engine: AsyncEngine, *, monitoring_events: bool = False, communication_log_items: bool = False
) -> None:
    """Turn F8's switches on or off in the settings row (id 1), as an operator would."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO global_settings (id, ctms_person_field, crm_account_field,"
                " automate_monitoring_events, automate_communication_log_items, retry_horizon_seconds,"
                " unmatched_max_age_seconds, updated_at)"
                " VALUES (1, 'external_id__v', 'External_ID_vod__c', :me, :cl, 259200, 604800, now())"
                " ON CONFLICT (id) DO UPDATE SET automate_monitoring_events = :me,"
                " automate_communication_log_items = :cl, updated_at = now()"
            ),
            {"me": monitoring_events, "cl": communication_log_items},
        )


def monitoring_event(vault: VaultState, person_id: str, study_id: str, **fields: Any) -> dict[str, Any]:
    values = {
        "name__v": "IMV 3 - Site 101",
        "person__v": person_id,
        "study__v": study_id,
        "monitoring_visit_method__v": "on_site__v",
        "planned_visit_start_date__v": "2026-11-18",
        "actual_visit_start_date__v": "2026-11-19",
        **fields,
    }
    return vault.user_create("monitoring_event__v", values)


def communication_log_item(
    vault: VaultState, person_id: str | None, study_id: str, **fields: Any
) -> dict[str, Any]:
    values = {
        "subject__v": "Protocol amendment call",
        "person__v": person_id,
        "study__v": study_id,
        "communication_date__v": "2026-11-21",
        "communication_method__v": "phone__v",
        **fields,
    }
    return vault.user_create("study_communication_log__ctms", values)


def activities_for(vault: VaultState, source_id: str) -> list[dict[str, Any]]:
    """The CTMS Activities keyed by a source record's id (F8 writes external_id__v = that id)."""
    return [r for r in vault.records_of("crm_activity__v") if r.get("external_id__v") == source_id]


def any_account(org: Org, identifier: str) -> str:
    """An account carrying the default identifier, in a Salesforce or a Vault CRM org (Vault CRM names
    accounts from their first and last names)."""
    if org.platform == "salesforce":
        return account(org, identifier)
    values = {"first_name__v": "Rosa", "last_name__v": "Lind", "external_id__v": identifier}
    return str(org.state.user_create("account__v", values)["id"])
