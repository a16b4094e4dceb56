"""Fixtures for the Salesforce simulator's contract tests: an org on a controllable clock, an in-process
client with a session, and the same org behind a real TLS server for third-party clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from app.simulators.common.server import ServerThread
from app.simulators.salesforce import SalesforceState, create_salesforce_app

CLIENT_ID = "3MVG9-bridge-test"
CLIENT_SECRET = "bridge-test-secret"
V = "/services/data/v62.0"


@dataclass
class FakeClock:
    """The org's clock; tests move it instead of sleeping."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC))


@pytest.fixture
def state(clock: FakeClock) -> SalesforceState:
    return SalesforceState(clients={CLIENT_ID: CLIENT_SECRET}, clock=clock)


@pytest.fixture
async def anon(state: SalesforceState) -> AsyncIterator[httpx.AsyncClient]:
    """No session: for the token endpoint, the versions list and the /_sim admin routes."""
    transport = httpx.ASGITransport(create_salesforce_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="https://org.sim.test") as client:
        yield client


async def fetch_token(client: httpx.AsyncClient) -> str:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    response = await client.post("/services/oauth2/token", data=form)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
async def api(anon: httpx.AsyncClient) -> httpx.AsyncClient:
    """The same app, with a bearer token from the simulator's own OAuth endpoint."""
    anon.headers["Authorization"] = f"Bearer {await fetch_token(anon)}"
    return anon


async def upsert_accounts(api: httpx.AsyncClient, *external_ids: str, **fields: Any) -> list[str]:
    ids = []
    for ext in external_ids:
        body = {"FirstName": "Test", "LastName": ext, **fields}
        response = await api.patch(f"{V}/sobjects/Account/External_ID_vod__c/{ext}", json=body)
        assert response.status_code in (200, 201), response.text
        ids.append(response.json()["id"])
    return ids


@dataclass
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throwaway CA and a localhost certificate: simple-salesforce only speaks HTTPS."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    files = TlsFiles(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    issued.cert_chain_pems[0].write_to_path(str(files.cert))
    issued.private_key_pem.write_to_path(str(files.key))
    return files


@dataclass
class RunningOrg:
    state: SalesforceState
    url: str
    ca: Path


@pytest.fixture(scope="module")
def tls_org(tls: TlsFiles) -> Iterator[RunningOrg]:
    """One org behind a real HTTPS server for the module; tests reset it as they need."""
    org = SalesforceState(clients={CLIENT_ID: CLIENT_SECRET})
    server = ServerThread(create_salesforce_app(org), ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key))
    with server:
        yield RunningOrg(org, server.url, tls.ca)
