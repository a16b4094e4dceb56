"""What the browser tests share: Debian's chromium, signing in, and confirmation dialogs accepted."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Dialog, Page, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"
# Screenshots go to the README's docs/console/ only when asked (BRIDGE_CONSOLE_SCREENSHOTS=1), so an
# ordinary test run leaves the checkout untouched.
SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "console"
    if os.environ.get("BRIDGE_CONSOLE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="bridge-console-shots-"))
)


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is required (apt-get install chromium); .ci/run installs it", pytrace=False)
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            await launched.close()


async def sign_in(page: Page, base: str, key: str) -> None:
    await page.goto(base + "/console/")
    await page.fill("input[name=api_key]", key)
    await page.click("button:has-text('Sign in')")
    await expect(page.locator("h1")).to_have_text("Overview")


def accept_confirmations(page: Page) -> list[str]:
    """Clicks OK on every hx-confirm dialog (Playwright dismisses them otherwise); answers their texts."""
    seen: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await dialog.accept()

    page.on("dialog", on_dialog)
    return seen


HEADINGS = {"Dead letters": "Dead letters by cause"}


async def open_page(page: Page, nav_text: str) -> None:
    """Follow a nav link and wait until its page is in (links are htmx-boosted, so there is no
    navigation to wait for): filling a form before the swap would fill the page being replaced."""
    await page.click(f"nav >> text={nav_text}")
    await expect(page.locator("h1")).to_contain_text(HEADINGS.get(nav_text, nav_text))
