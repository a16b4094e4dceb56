"""Typed clients against the simulators, in-process: each test gets a fresh vault or org, an
``httpx.AsyncClient`` over ``ASGITransport`` that records the requests it sends, and a client factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.clients.salesforce import SalesforceClient, SalesforceCredentials
from app.clients.vault import VaultClient, VaultCredentials
from app.simulators.salesforce import SalesforceState, create_salesforce_app
from app.simulators.vault import VaultConfig, VaultState, create_vault_app

VAULT_URL = "http://vault.test"
VAULT_USER = "integration@sim.example.com"
VAULT_PASSWORD = "integration-password"
VAULT_ID = "4242"  # VaultConfig's default vault_id

SF_LOGIN_URL = "http://login.sf.test"
SF_INSTANCE_URL = "http://instance.sf.test"  # what the token answer names; differs from the login URL
SF_CLIENT_ID = "3MVG9-client-tests"
SF_CLIENT_SECRET = "client-tests-secret"
TOKEN_PATH = "/services/oauth2/token"


class Clock:
    """A settable clock for a simulator (session idle time, deletion dates, replication windows)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Rig:
    """A simulator's in-process HTTP client and every request the code under test sent through it."""

    http: httpx.AsyncClient
    requests: list[httpx.Request] = field(default_factory=list)

    def sent(self, path_contains: str) -> list[httpx.Request]:
        return [r for r in self.requests if path_contains in r.url.path]


async def _rig(app: Any) -> AsyncIterator[Rig]:
    rig_requests: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        rig_requests.append(request)

    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, event_hooks={"request": [record]}) as http:
        yield Rig(http, rig_requests)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def vault_state(clock: Clock) -> VaultState:
    state = VaultState(config=VaultConfig(flavor="ctms"))
    state.clock = clock
    return state


@pytest.fixture
async def vault_rig(vault_state: VaultState) -> AsyncIterator[Rig]:
    async for rig in _rig(create_vault_app(vault_state)):
        yield rig


def vault_credentials(**overrides: Any) -> VaultCredentials:
    values: dict[str, Any] = {
        "url": VAULT_URL,
        "username": VAULT_USER,
        "password": VAULT_PASSWORD,
        "vault_id": VAULT_ID,
    }
    return VaultCredentials(**{**values, **overrides})


@pytest.fixture
def vault_client(vault_rig: Rig) -> VaultClient:
    return VaultClient(vault_rig.http, vault_credentials())


@pytest.fixture
def crm_vault_state() -> VaultState:
    return VaultState(config=VaultConfig(flavor="crm"))


@pytest.fixture
async def crm_vault_rig(crm_vault_state: VaultState) -> AsyncIterator[Rig]:
    async for rig in _rig(create_vault_app(crm_vault_state)):
        yield rig


@pytest.fixture
def sf_state(clock: Clock) -> SalesforceState:
    return SalesforceState(
        clients={SF_CLIENT_ID: SF_CLIENT_SECRET}, clock=clock, instance_url=SF_INSTANCE_URL
    )


@pytest.fixture
async def sf_rig(sf_state: SalesforceState) -> AsyncIterator[Rig]:
    async for rig in _rig(create_salesforce_app(sf_state)):
        yield rig


def sf_credentials(**overrides: Any) -> SalesforceCredentials:
    values: dict[str, Any] = {
        "login_url": SF_LOGIN_URL,
        "client_id": SF_CLIENT_ID,
        "client_secret": SF_CLIENT_SECRET,
    }
    return SalesforceCredentials(**{**values, **overrides})


@pytest.fixture
def sf_client(sf_rig: Rig) -> SalesforceClient:
    return SalesforceClient(sf_rig.http, sf_credentials())


def api_calls(state: VaultState | SalesforceState, path_contains: str = "") -> list[str]:
    """Paths of the API calls a simulator received (its own log), optionally filtered."""
    return [c.path for c in state.calls.calls if path_contains in c.path]
