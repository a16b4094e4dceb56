"""Fixtures for the Vault simulator contract tests: a fresh vault, a logged-in client, a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.signing import generate_secret
from app.simulators.vault import VaultConfig, VaultState, create_vault_app
from app.simulators.vault.state import Flavor

V = "v25.2"
API_USER = "integration@sim.example.com"
API_PASSWORD = "integration-password"


class Clock:
    """A settable clock for the simulator (sessions, deletions, modified dates)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Vault:
    """A simulator under test: its state, an in-process client and a logged-in session."""

    state: VaultState
    client: httpx.AsyncClient
    session_id: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session_id}"}

    async def login(self, username: str = API_USER, password: str = API_PASSWORD) -> httpx.Response:
        response = await self.client.post(f"/api/{V}/auth", data={"username": username, "password": password})
        if response.json().get("responseStatus") == "SUCCESS":
            self.session_id = response.json()["sessionId"]
        return response

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.client.post(f"/api/{V}{path}", json=json, headers=self.auth, **kwargs)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def put(self, path: str, json: Any) -> dict[str, Any]:
        response = await self.client.put(f"/api/{V}{path}", json=json, headers=self.auth)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def get(self, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.client.get(f"/api/{V}{path}", headers=self.auth, **kwargs)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def query(self, q: str) -> dict[str, Any]:
        response = await self.client.post(f"/api/{V}/query", data={"q": q}, headers=self.auth)
        assert response.status_code == 200, response.text
        return dict(response.json())


async def _vault(flavor: Flavor, clock: Clock | None = None) -> AsyncIterator[Vault]:
    state = VaultState(config=VaultConfig(flavor=flavor))
    if clock is not None:
        state.clock = clock
    app = create_vault_app(state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://vault.test") as client:
        vault = Vault(state, client)
        assert (await vault.login()).json()["responseStatus"] == "SUCCESS"
        yield vault


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def vault() -> AsyncIterator[Vault]:
    async for v in _vault("ctms"):
        yield v


@pytest.fixture
async def clocked_vault(clock: Clock) -> AsyncIterator[Vault]:
    async for v in _vault("ctms", clock):
        yield v


@pytest.fixture
async def crm_vault() -> AsyncIterator[Vault]:
    async for v in _vault("crm"):
        yield v


@dataclass
class Receiver:
    """A stand-in for the bridge's webhook endpoints that verifies every Standard Webhooks signature."""

    secret: str = field(default_factory=generate_secret)
    events: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    rejected: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()
        verifier = Webhook(self.secret)

        async def accept(request: Request) -> JSONResponse:
            body = await request.body()
            try:
                payload = verifier.verify(body, dict(request.headers))
            except WebhookVerificationError:
                self.rejected += 1
                return JSONResponse({"code": "SIGNATURE_INVALID"}, status_code=401)
            self.events.append((request.url.path, payload, dict(request.headers)))
            return JSONResponse({"status": "accepted"}, status_code=202)

        app.add_api_route("/webhooks/ctms", accept, methods=["POST"])
        app.add_api_route("/webhooks/crm/{connection_id}", accept, methods=["POST"])
        return app

    def types(self) -> list[str]:
        return [payload["type"] for _, payload, _ in self.events]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


def wire(state: VaultState, receiver: Receiver, **options: Any) -> None:
    """Deliver the vault's events in-process to the receiver."""
    state.configure_webhook("http://bridge.test", receiver.secret, **options)
    state.emitter.transport = httpx.ASGITransport(receiver.app())


def person(state: VaultState, identifier: str = "HCP-000123") -> dict[str, Any]:
    return state.user_create(
        "person__sys",
        {
            "first_name__sys": "Ana",
            "last_name__sys": "Silva",
            "email__sys": "ana@example.com",
            "external_id__v": identifier,
        },
    )
