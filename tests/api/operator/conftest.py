"""Fixtures for the operator API: the app on real PostgreSQL and Redis, keys per role, stored deliveries."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.main import create_app
from app.models import Delivery, DeliveryAttempt, InboxEvent
from tests.conftest import make_settings, running_app

ADMIN_KEY = "test-bootstrap-admin-key-0123456789"


@dataclass
class Api:
    client: httpx.AsyncClient
    keys: dict[str, str]  # role -> a live key of that role; "admin" is the bootstrap key

    def auth(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    async def get(self, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.auth(role), **kw)

    async def post(self, path: str, json: Any = None, role: str = "admin") -> httpx.Response:
        return await self.client.post(path, json=json, headers=self.auth(role))

    async def patch(self, path: str, json: Any, role: str = "admin") -> httpx.Response:
        return await self.client.patch(path, json=json, headers=self.auth(role))

    async def put(self, path: str, json: Any, role: str = "admin") -> httpx.Response:
        return await self.client.put(path, json=json, headers=self.auth(role))

    async def delete(self, path: str, role: str = "admin") -> httpx.Response:
        return await self.client.delete(path, headers=self.auth(role))

    async def new_key(self, role: str, name: str | None = None) -> dict[str, Any]:
        response = await self.post("/api/v1/api-keys", {"name": name or f"{role} key", "role": role})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


# A Redis database of their own: an arq worker started by another suite on the shared test database
# (tests/e2e run real workers) must never take the wake-ups these tests look for.
@pytest.fixture
async def api(clean_db: AsyncEngine, pg_url: str, redis_url: str) -> AsyncIterator[Api]:
    # arq on Redis with no worker running: wake-ups stay queued, so tests can see which lanes were woken
    settings = make_settings(pg_url, redis_url=redis_url, admin_api_key=ADMIN_KEY)
    async with running_app(create_app(settings)) as client:
        api = Api(client, {"admin": ADMIN_KEY})
        for role in ("viewer", "operator"):
            api.keys[role] = (await api.new_key(role))["key"]
        yield api


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code), body
    assert body["detail"]
    return body


SALESFORCE_CRM = {
    "login_url": "https://mycompany.my.salesforce.com",
    "client_id": "3MVG9-test-client",
    "client_secret": "sf-client-secret-DO-NOT-LEAK-1",
}


def connection_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": f"CRM {uuid.uuid4().hex[:8]}",
        "platform": "salesforce",
        "crm": dict(SALESFORCE_CRM),
        **overrides,
    }


async def add_event(engine: AsyncEngine, **fields: Any) -> int:
    values: dict[str, Any] = {
        "sender": "ctms",
        "webhook_id": f"msg_{uuid.uuid4().hex}",
        "source": "ctms",
        "type": "ctms.record.updated",
        "object": "crm_activity__v",
        "record_id": "V6A000000001001",
        "payload": {"type": "ctms.record.updated"},
        "status": "processed",
        **fields,
    }
    async with AsyncSession(engine, expire_on_commit=False) as session:
        event = InboxEvent(**values)
        session.add(event)
        await session.commit()
    assert event.id is not None
    return event.id


async def add_delivery(engine: AsyncEngine, *, attempts: int = 0, **fields: Any) -> int:
    """A stored delivery (and ``attempts`` failed attempt rows), as the delivery engine leaves them."""
    values: dict[str, Any] = {
        "connection_id": "conn_a",
        "direction": "ctms_to_crm",
        "operation": "upsert_interaction",
        "lane": "conn_a:interactions",
        "source_object": "crm_activity__v",
        "source_id": f"V6A{uuid.uuid4().int % 10**12:012d}",
        "status": "dead",
        "attempts": attempts,
        "last_error_code": "UNKNOWN_CHANNEL" if fields.get("status", "dead") == "dead" else None,
        **fields,
    }
    async with AsyncSession(engine, expire_on_commit=False) as session:
        delivery = Delivery(**values)
        session.add(delivery)
        await session.flush()
        assert delivery.id is not None
        for number in range(1, attempts + 1):
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery.id,
                    number=number,
                    started_at=datetime.now(UTC),
                    target="salesforce test",
                    operation="upsert",
                    outcome="permanent",
                    http_status=400,
                    error_code="UNKNOWN_CHANNEL",
                )
            )
        await session.commit()
    return delivery.id
