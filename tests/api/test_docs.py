"""Issue 18 point 1: /docs and /redoc work on a network without internet, for the bridge and both
simulators, and the operator API's error answers show operator examples (not the webhooks')."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.simulators.common.server import ServerThread
from app.simulators.salesforce.app import create_salesforce_app
from app.simulators.vault.app import create_vault_app
from tests.conftest import make_settings
from tests.console.browsing import launched_chromium

WEBHOOK_CODES = {"SIGNATURE_INVALID", "BODY_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "ENVELOPE_INVALID"}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_chromium() as launched:
        yield launched


@pytest.fixture
def bridge_url(clean_db: AsyncEngine, pg_url: str) -> Iterator[str]:
    with ServerThread(create_app(make_settings(pg_url))) as server:
        yield server.url


async def offline_page(browser: Browser) -> tuple[Page, list[str]]:
    """A page that can reach 127.0.0.1 only, as on a closed network; answers the refused URLs."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    refused: list[str] = []

    async def only_local(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            refused.append(url)
            await route.abort()

    await page.route("**/*", only_local)
    return page, refused


async def assert_swagger_renders(browser: Browser, url: str, operation: str) -> Page:
    page, refused = await offline_page(browser)
    await page.goto(url)
    await expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
    await expect(page.locator(".opblock-summary-description", has_text=operation).first).to_be_visible()
    assert await page.locator(".opblock").count() > 3
    assert refused == []
    return page


async def assert_redoc_renders(browser: Browser, url: str, operation: str) -> None:
    page, refused = await offline_page(browser)
    await page.goto(url)
    await expect(page.locator("h2", has_text=operation).first).to_be_attached(timeout=15_000)
    assert refused == []
    await page.close()


async def test_the_bridge_docs_render_offline_with_operator_error_examples(
    browser: Browser, bridge_url: str
) -> None:
    page = await assert_swagger_renders(browser, bridge_url + "/docs", "List connections (no secrets)")
    # the description says how to authenticate
    await expect(page.locator(".info")).to_contain_text("Authorization: Bearer <key>")
    await expect(page.locator(".info")).to_contain_text("webhook-signature")
    # an operator route's error answers: its own codes, not the webhooks' SIGNATURE_INVALID
    await page.locator(".opblock-summary", has_text="Delete an inactive connection").first.click()
    responses = page.locator(".opblock.is-open .responses-wrapper")
    for code in ("API_KEY_MISSING", "ROLE_INSUFFICIENT", "CONNECTION_NOT_FOUND", "CONNECTION_ACTIVE"):
        await expect(responses).to_contain_text(code)
    assert "SIGNATURE_INVALID" not in await responses.inner_text()
    await page.close()
    await assert_redoc_renders(browser, bridge_url + "/redoc", "List connections (no secrets)")


async def test_the_simulators_docs_render_offline(browser: Browser) -> None:
    with ServerThread(create_vault_app()) as vault, ServerThread(create_salesforce_app()) as salesforce:
        for server in (vault, salesforce):
            page = await assert_swagger_renders(browser, server.url + "/_sim/docs", "")
            await page.close()
            await assert_redoc_renders(browser, server.url + "/_sim/redoc", "")


def test_operator_error_examples_are_operator_codes() -> None:
    spec = create_app(make_settings("sqlite+aiosqlite://")).openapi()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                example = response["content"]["application/problem+json"].get("example")
                assert example is not None, (method, path, status)
                assert example["status"] == int(status), (method, path, status)
                if path.startswith("/api/"):
                    assert example["code"] not in WEBHOOK_CODES, (method, path, status)
    delete = spec["paths"]["/api/v1/connections/{connection_id}"]["delete"]["responses"]
    assert delete["401"]["content"]["application/problem+json"]["example"]["code"] == "API_KEY_MISSING"
    assert delete["409"]["content"]["application/problem+json"]["example"]["code"] == "CONNECTION_ACTIVE"
    webhook = spec["paths"]["/webhooks/ctms"]["post"]["responses"]["401"]
    assert webhook["content"]["application/problem+json"]["example"]["code"] == "SIGNATURE_INVALID"
