"""Each console page's writes in a real browser (Debian's chromium): connections from creation to deletion,
settings, API keys, audit log paging, discarding dead letters one by one and by cause, and what a viewer
is refused. One simulated world and one bridge server serve the whole module; every test starts from
empty tables and reads the outcome back from the operator API or the database.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.models import AuditEntry
from tests.api.operator.conftest import ADMIN_KEY, add_delivery
from tests.console.browsing import SHOTS, accept_confirmations, open_page, sign_in
from tests.e2e.harness import SF_CLIENT_SECRET, Org, bridge_server, simulated_world

INTERACTION = "Vault_Clinical_Interaction_vod__c"
CHANNEL = "Call_Channel_vod__c"
PICKLIST = "Call Channel: bad value for restricted picklist field: Face_to_face_vod (record V6A00000000{})"


@dataclass
class Site:
    base: str
    org: Org

    def api(self, method: str, path: str, key: str = ADMIN_KEY, **kw: Any) -> Any:
        answer = httpx.request(
            method, self.base + path, headers={"Authorization": f"Bearer {key}"}, timeout=10, **kw
        )
        assert answer.status_code < 400, answer.text
        return answer.json()

    def key(self, role: str, name: str) -> str:
        return str(self.api("POST", "/api/v1/api-keys", json={"name": name, "role": role})["key"])


@pytest.fixture(scope="module")
def site(pg_url: str) -> Iterator[Site]:
    with simulated_world() as world, bridge_server(world, pg_url, None, admin_api_key=ADMIN_KEY) as base:
        yield Site(base, world.orgs[0])


@pytest.fixture
async def context(browser: Browser, clean_db: AsyncEngine) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context(viewport={"width": 1360, "height": 900})
    yield made
    await made.close()


async def _admin(context: BrowserContext, site: Site) -> Page:
    page = await context.new_page()
    accept_confirmations(page)
    await sign_in(page, site.base, ADMIN_KEY)
    return page


async def _statuses(engine: AsyncEngine) -> dict[int, str]:
    async with engine.connect() as conn:
        return dict((await conn.execute(text("SELECT id, status FROM deliveries"))).all())


async def test_a_connection_is_created_tested_fixed_edited_activated_rotated_and_deleted(
    context: BrowserContext, site: Site
) -> None:
    org = site.org
    org.state.register_client(org.client_id, SF_CLIENT_SECRET)
    schema = org.state.schema.objects[INTERACTION]
    channel = schema.fields[CHANNEL]
    org.state.schema.remove_field(INTERACTION, CHANNEL)  # the integration user cannot see it yet
    page = await _admin(context, site)
    try:
        await open_page(page, "Connections")
        await page.click("text=New connection")
        await page.select_option(
            "form.inline select[name=platform]", "vault"
        )  # the form follows the platform
        await expect(page.locator("input[name=crm_vault_url]")).to_be_visible()
        await expect(page.locator("input[name=crm_api_version]")).to_have_value("v25.2")
        await page.select_option("select[name=platform]", "salesforce")
        await expect(page.locator("input[name=crm_login_url]")).to_be_visible()
        await page.fill("input[name=name]", "US Medical CRM")
        await page.fill("input[name=crm_login_url]", org.url)
        await page.fill("input[name=crm_client_id]", org.client_id)
        await page.fill("input[name=crm_client_secret]", SF_CLIENT_SECRET)
        await page.click("button:has-text('Create')")
        await expect(page.locator("#new-secret")).to_contain_text("whsec_")
        await expect(page.locator("h1")).to_contain_text("inactive")
        [listed] = site.api("GET", "/api/v1/connections")["items"]
        connection_id = listed["id"]
        assert listed["credentials_set"] == ["client_secret"]
        assert SF_CLIENT_SECRET not in await page.content()

        # the test names exactly what is missing
        await page.click("button:has-text('Test connection')")
        await expect(page.locator(".report h2")).to_have_text("Test: something is missing")
        await expect(page.locator(".report tr.missing")).to_contain_text(CHANNEL)
        await page.screenshot(path=SHOTS / "connection-test.png", full_page=True)
        org.state.schema.set_field(INTERACTION, channel)  # the CRM admin grants field access
        await page.click("button:has-text('Test connection')")
        await expect(page.locator(".report h2")).to_have_text("Test: everything the bridge needs is there")
        await expect(page.locator(".report tr.missing")).to_have_count(0)

        # edit: blank secrets keep theirs
        await page.fill(
            "textarea[name=object_names]", '{"picklists": {"channel": {"in_person": "In_Person_vod"}}}'
        )
        await page.fill("input[name=ctms_person_field]", "npi__v")
        await page.fill("input[name=crm_account_field]", "NPI_vod__c")
        await page.click("button:has-text('Save')")
        await expect(page.locator(".notice")).to_have_text("Saved.")
        await page.reload()
        await expect(page.locator("textarea[name=object_names]")).to_contain_text("In_Person_vod")
        stored = site.api("GET", f"/api/v1/connections/{connection_id}")
        assert stored["object_names"] == {"picklists": {"channel": {"in_person": "In_Person_vod"}}}
        assert stored["account_match"] == {"ctms_person_field": "npi__v", "crm_account_field": "NPI_vod__c"}
        assert stored["credentials_set"] == ["client_secret"]
        await page.fill("textarea[name=object_names]", "{broken")
        await page.click("button:has-text('Save')")
        await expect(page.locator("ul.error")).to_contain_text("object names: not valid JSON")

        # activate; an active connection offers no delete
        await page.goto(f"{site.base}/console/connections/{connection_id}")
        await page.click("button:has-text('Activate')")
        await expect(page.locator(".notice")).to_contain_text("Active: events flow")
        await expect(page.locator("h1")).to_contain_text("· active")
        await expect(page.locator("button:has-text('Delete')")).to_have_count(0)
        assert site.api("GET", f"/api/v1/connections/{connection_id}")["active"] is True

        # rotate the webhook secret: add one (shown once), then retire the previous one
        await page.click("button:has-text('Add a webhook secret (rotate)')")
        await expect(page.locator("#new-secret")).to_contain_text("whsec_")
        await expect(page.locator("body")).to_contain_text("2 webhook secret(s)")
        await page.click("button:has-text('Retire previous secrets')")
        await expect(page.locator(".notice")).to_have_text("Only the newest webhook secret verifies now.")
        await expect(page.locator("body")).to_contain_text("1 webhook secret(s)")
        assert site.api("GET", f"/api/v1/connections/{connection_id}")["webhook_secret_count"] == 1

        # deactivate, then delete (after the browser's confirmation)
        await page.click("button:has-text('Deactivate')")
        await expect(page.locator(".notice")).to_contain_text("Inactive:")
        await page.click("button:has-text('Delete')")
        await expect(page.locator(".notice")).to_contain_text(f"Connection {connection_id} deleted")
        await expect(page.locator("h1")).to_have_text("Connections")
        assert site.api("GET", "/api/v1/connections")["items"] == []

        await page.goto(f"{site.base}/console/audit-log?resource_type=connection")
        for action in (
            "connection.create",
            "connection.update",
            "connection.activate",
            "connection.webhook_secret.add",
            "connection.webhook_secret.retire",
            "connection.deactivate",
            "connection.delete",
        ):
            await expect(page.locator("table")).to_contain_text(action)
        assert SF_CLIENT_SECRET not in await page.content()
    finally:
        org.state.schema.set_field(INTERACTION, channel)


async def test_settings_are_saved_and_a_refused_value_is_shown_on_the_form(
    context: BrowserContext, site: Site
) -> None:
    page = await _admin(context, site)
    await open_page(page, "Settings")
    await page.fill("input[name=retry_horizon_seconds]", "86400")
    await page.fill("input[name=unmatched_max_age_seconds]", "3600")
    await page.check("input[name=automate_monitoring_events]")
    await page.click("button:has-text('Save settings')")
    await expect(page.locator(".notice")).to_have_text("Settings saved.")
    await page.reload()
    await expect(page.locator("input[name=retry_horizon_seconds]")).to_have_value("86400")
    await expect(page.locator("input[name=automate_monitoring_events]")).to_be_checked()
    saved = site.api("GET", "/api/v1/settings")
    assert saved["retry_horizon_seconds"] == 86400
    assert saved["unmatched_max_age_seconds"] == 3600
    assert saved["automate_monitoring_events"] is True

    await page.fill("input[name=ctms_person_field]", "not an api name")
    await page.click("button:has-text('Save settings')")
    await expect(page.locator("ul.error")).to_contain_text("INVALID_ACCOUNT_MATCH")
    await expect(page.locator("input[name=ctms_person_field]")).to_have_value("not an api name")
    assert site.api("GET", "/api/v1/settings")["ctms_person_field"] == saved["ctms_person_field"]


async def test_an_api_key_is_shown_once_works_and_stops_working_when_revoked(
    context: BrowserContext, browser: Browser, site: Site
) -> None:
    page = await _admin(context, site)
    await open_page(page, "API keys")
    await page.fill("input[name=name]", "on-call laptop")
    await page.select_option("select[name=role]", "operator")
    await page.click("button:has-text('Create key')")
    new_key = (await page.locator("#new-key").text_content() or "").strip()
    assert new_key.startswith("brk_")
    await page.reload()
    await expect(page.locator("#new-key")).to_have_count(0)  # shown once
    await expect(page.locator("table")).to_contain_text("on-call laptop")

    holder = await browser.new_context()
    try:
        other = await holder.new_page()
        await sign_in(other, site.base, new_key)
        await expect(other.locator(".role")).to_have_text("operator")
        await expect(other.locator("nav >> text=API keys")).to_have_count(0)

        await page.click("tr:has-text('on-call laptop') >> button:has-text('Revoke')")
        await expect(page.locator(".notice")).to_contain_text("on-call laptop")
        await expect(page.locator(".notice")).to_contain_text("is revoked")
        [key] = site.api("GET", "/api/v1/api-keys", params={"include_revoked": "true"})["items"]
        assert key["revoked_at"] is not None

        await other.reload()  # a revoked key signs its holder out at once
        await expect(other.locator("h1")).to_have_text("Sign in")
        await expect(other.locator(".error")).to_contain_text("revoked")
    finally:
        await holder.close()


async def test_the_audit_log_pages_back_and_forth(
    context: BrowserContext, site: Site, clean_db: AsyncEngine
) -> None:
    async with AsyncSession(clean_db) as session:  # 55 recorded changes: a page of 50, then 5
        session.add_all(
            AuditEntry(actor="api-key:admin", action="settings.update", resource_type="settings",
                       resource_id="1", after={"retry_horizon_seconds": 3600 + n})
            for n in range(55)
        )  # fmt: skip
        await session.commit()
    page = await _admin(context, site)
    await open_page(page, "Audit log")
    await page.fill("input[name=action]", "settings.update")
    await page.click("button:has-text('Filter')")
    await expect(page).to_have_url(re.compile(r"action=settings\.update"))
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(50)
    await expect(rows.first).to_contain_text('"retry_horizon_seconds": 3654')
    await page.click("text=Older entries")
    await expect(rows).to_have_count(5)
    await expect(rows.last).to_contain_text('"retry_horizon_seconds": 3600')
    await expect(page.locator("text=Older entries")).to_have_count(0)
    await page.click("text=Newest entries")
    await expect(rows).to_have_count(50)
    await expect(page.locator("input[name=action]")).to_have_value("settings.update")


async def test_an_operator_discards_one_dead_letter_and_then_a_whole_cause_after_dry_runs(
    context: BrowserContext, site: Site, clean_db: AsyncEngine
) -> None:
    group = [
        await add_delivery(clean_db, last_error_code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", last_error=PICKLIST.format(n))
        for n in range(3)
    ]  # fmt: skip
    single = await add_delivery(clean_db, source_id="V6A000000005150", last_error="no such study")
    page = await context.new_page()
    await sign_in(page, site.base, site.key("operator", "ops"))

    # one: from the record's timeline
    await open_page(page, "Record timeline")
    await page.fill("input[name=id]", "V6A000000005150")
    await page.click("button:has-text('Find')")
    await page.click("button:has-text('Discard… (dry run first)')")
    await expect(page.locator("#plan")).to_contain_text("It becomes discarded; nothing is sent.")
    assert (await _statuses(clean_db))[single] == "dead"  # a dry run changes nothing
    await page.fill("#plan input[name=reason]", "study was withdrawn")
    await page.click("button:has-text('Discard 1 now')")
    await expect(page.locator(".notice")).to_have_text(f"Delivery {single} was discarded.")

    # a whole cause: counted first, then acted on
    await expect(page.locator("tr.cause-row")).to_have_count(1)
    await expect(page.locator("tr.cause-row .count")).to_have_text("3")
    await page.click("button:has-text('Discard…')")
    await expect(page.locator("#plan")).to_contain_text("3 dead letters")
    await expect(page.locator("#plan")).to_contain_text("would be discarded")
    assert set((await _statuses(clean_db)).values()) == {"dead", "discarded"}
    await page.fill("#plan input[name=reason]", "channel retired in this org")
    await page.click("button:has-text('Discard 3 now')")
    await expect(page.locator(".notice")).to_have_text("3 dead letters discarded.")
    await expect(page.locator("tbody")).to_contain_text("No dead letters.")
    statuses = await _statuses(clean_db)
    assert [statuses[i] for i in [single, *group]] == ["discarded"] * 4

    await page.goto(f"{site.base}/console/audit-log?action=delivery.discard")
    await expect(page.locator("tbody tr")).to_have_count(4)
    await expect(page.locator("tbody")).to_contain_text("channel retired in this org")


async def test_an_operator_replays_one_dead_letter_from_its_timeline_after_a_dry_run(
    context: BrowserContext, site: Site, clean_db: AsyncEngine
) -> None:
    dead = await add_delivery(clean_db, source_id="V6A000000006160", last_error="no such study")
    page = await context.new_page()
    await sign_in(page, site.base, site.key("operator", "ops"))
    await page.goto(f"{site.base}/console/records?id=V6A000000006160")
    await page.click("button:has-text('Replay… (dry run first)')")
    await expect(page.locator("#plan")).to_contain_text("It becomes pending and is sent again now")
    assert (await _statuses(clean_db))[dead] == "dead"  # a dry run changes nothing
    await page.click("button:has-text('Replay 1 now')")
    await expect(page.locator(".notice")).to_have_text(
        f"Delivery {dead} is pending again: its lane was woken."
    )
    [entry] = site.api("GET", "/api/v1/audit-log", params={"action": "delivery.replay"})["items"]
    assert (entry["resource_id"], entry["actor"].endswith("(ops)")) == (str(dead), True)


async def test_a_viewer_sees_no_write_controls_and_its_posts_are_refused(
    context: BrowserContext, site: Site, clean_db: AsyncEngine
) -> None:
    created = site.api(
        "POST",
        "/api/v1/connections",
        json={"name": "Read-only CRM", "platform": "salesforce",
              "crm": {"login_url": site.org.url, "client_id": "c", "client_secret": "s", "api_version": "v62.0"}},
    )  # fmt: skip
    page = await context.new_page()
    await sign_in(page, site.base, site.key("viewer", "auditor"))
    await open_page(page, "Connections")
    await expect(page.locator("text=New connection")).to_have_count(0)
    await page.click("text=Read-only CRM")
    await expect(page.locator("main button")).to_have_count(0)  # no test, activate, rotate, save
    await expect(page.locator("input[name=name]")).to_be_disabled()  # the fieldset disables every field
    await open_page(page, "Settings")
    await expect(page.locator("input[name=retry_horizon_seconds]")).to_be_disabled()
    await expect(page.locator("main button")).to_have_count(0)
    await open_page(page, "Overview")
    await expect(page.locator("main button")).to_have_count(0)

    csrf = await page.locator("meta[name=csrf-token]").get_attribute("content") or ""
    for path, form in (
        (f"/console/connections/{created['id']}/activate", {}),
        (f"/console/connections/{created['id']}", {"name": "renamed", "platform": "salesforce"}),
        ("/console/settings", {"retry_horizon_seconds": "60"}),
        ("/console/api-keys", {"name": "sneaky", "role": "admin"}),
        ("/console/transfer-runs", {}),
    ):
        refused = await page.request.post(site.base + path, form={"csrf_token": csrf, **form})
        assert refused.status == 403, path
        assert "ROLE_INSUFFICIENT" in await refused.text(), path
    after = site.api("GET", f"/api/v1/connections/{created['id']}")
    assert (after["name"], after["active"]) == ("Read-only CRM", False)
    assert site.api("GET", "/api/v1/settings")["retry_horizon_seconds"] != 60
    assert [k["name"] for k in site.api("GET", "/api/v1/api-keys")["items"]] == ["auditor"]

    await page.click("button:has-text('Sign out')")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.goto(site.base + "/console/settings")
    await expect(page.locator("h1")).to_have_text("Sign in")  # the cookie is gone
