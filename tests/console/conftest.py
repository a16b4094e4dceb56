"""Fixtures for the console: the app in-process (httpx ASGI) on real PostgreSQL, a signed-in client per role."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.api.operator.conftest import ADMIN_KEY
from tests.conftest import make_settings, running_app
from tests.console.browsing import launched_chromium

CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


@dataclass
class Console:
    client: httpx.AsyncClient
    keys: dict[str, str]

    async def sign_in(self, role: str) -> str:
        """Signs this client in with a key of ``role``; answers the page's CSRF token."""
        self.client.cookies.clear()
        response = await self.client.post("/console/sign-in", data={"api_key": self.keys[role]})
        assert response.status_code == 303, response.text
        page = await self.client.get("/console/")
        assert page.status_code == 200, page.text
        found = CSRF.search(page.text)
        assert found is not None
        return found.group(1)


@pytest.fixture
async def console(clean_db: AsyncEngine, pg_url: str) -> AsyncIterator[Console]:
    settings = make_settings(pg_url, admin_api_key=ADMIN_KEY)
    async with running_app(create_app(settings)) as client:
        keys = {"admin": ADMIN_KEY}
        for role in ("viewer", "operator"):
            made = await client.post(
                "/api/v1/api-keys",
                json={"name": f"{role} key", "role": role},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            keys[role] = made.json()["key"]
        yield Console(client, keys)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One chromium for every browser test of the session (each test opens its own context)."""
    async with launched_chromium() as launched:
        yield launched
