"""The console in a real browser (Playwright driving Debian's chromium, never a downloaded one).

The main journey: an admin who has never used the bridge finds why a CTMS activity is missing in the
CRM (a restricted picklist refused the channel), fixes the connection's picklist mapping, replays the
dead letter after a dry run, and the interaction appears in the simulated CRM. The same story with the
commonest cause: the doctor has no CRM account, a Transfer run (started from the overview) gives up on
the person, the account is created, the dead-letter group is replayed and the interaction arrives.
Page-by-page writes are in test_browser_admin.py.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from playwright.async_api import Browser, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.operator.conftest import ADMIN_KEY
from tests.console.browsing import SHOTS, open_page, sign_in
from tests.e2e.harness import account, activity, bridge_server, interactions, person, simulated_world, study
from tests.processes import eventually

INTERACTION = "Vault_Clinical_Interaction_vod__c"


async def _dead(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            await conn.execute(text("SELECT id, last_error_code FROM deliveries WHERE status = 'dead'"))
        )


async def test_an_admin_finds_a_missing_activity_fixes_the_cause_and_replays_it(
    browser: Browser, clean_db: AsyncEngine, pg_url: str
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with simulated_world() as world:
        org = world.orgs[0]
        channel = org.state.schema.objects[INTERACTION].fields["Call_Channel_vod__c"]
        org.state.schema.set_field(  # this org names "in person" differently from Veeva's default
            INTERACTION, replace(channel, picklist=("In_Person_vod", "Video_vod", "Phone_vod"))
        )
        connection_id = await world.connect(clean_db, org, name="EU Medical CRM")
        with bridge_server(world, pg_url, redis_url=None, admin_api_key=ADMIN_KEY) as base:
            person_id = person(world.vault, "HCP-000123")
            account(org, "HCP-000123")
            created = activity(world.vault, person_id, study(world.vault), channel__v="in_person__v")
            activity_id = created["id"]
            await eventually(lambda: _dead(clean_db), bool, timeout=30)
            assert interactions(org) == []

            page = await browser.new_page(viewport={"width": 1360, "height": 900})
            await sign_in(page, base, ADMIN_KEY)

            # 1. where is it? the timeline shows the dead delivery and the CRM's answer
            await open_page(page, "Record timeline")
            await page.fill("input[name=id]", activity_id)
            await page.click("button:has-text('Find')")
            await expect(page.locator(".cause").first).to_contain_text("Face_to_face_vod")
            await expect(page.locator("table.attempts").first).to_contain_text(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
            )
            await page.screenshot(path=SHOTS / "record-timeline.png", full_page=True)

            # 2. fix the cause: map "in person" to this org's picklist value
            await open_page(page, "Connections")
            await page.click("text=EU Medical CRM")
            await page.fill(
                "textarea[name=object_names]", '{"picklists": {"channel": {"in_person": "In_Person_vod"}}}'
            )
            await page.click("button:has-text('Save')")
            await expect(page.locator(".notice")).to_have_text("Saved.")
            await page.click("button:has-text('Test connection')")
            await expect(page.locator(".report")).to_be_visible()
            await page.screenshot(path=SHOTS / "connection.png", full_page=True)

            # 3. replay the group, dry run first
            await open_page(page, "Dead letters")
            await expect(page.locator("tr.cause-row")).to_have_count(1)
            await page.screenshot(path=SHOTS / "dead-letters.png", full_page=True)
            await page.click("button:has-text('Replay 1… (dry run)')")
            await expect(page.locator("#plan")).to_contain_text("would be replayed")
            await page.screenshot(path=SHOTS / "dead-letters-dry-run.png", full_page=True)
            await page.click("button:has-text('Replay 1 now')")
            await expect(page.locator(".notice")).to_contain_text("1 dead letter replayed.")

            # 4. it arrives in the CRM with the fixed value
            [row] = await eventually(
                lambda: _async(interactions(org)), lambda rows: len(rows) == 1, timeout=30
            )
            assert row["Vault_Activity_ID_vod__c"] == activity_id
            assert row["Call_Channel_vod__c"] == "In_Person_vod"
            await open_page(page, "Record timeline")
            await page.fill("input[name=id]", activity_id)
            await page.click("button:has-text('Find')")
            await expect(page.locator("body")).to_contain_text("delivered")
            for name, path in (
                ("settings", "Settings"),
                ("api-keys", "API keys"),
                ("audit-log", "Audit log"),
            ):
                await page.click(f"nav >> text={path}")
                await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
            await expect(page.locator("body")).to_contain_text("delivery.replay")
            await page.close()
    assert connection_id


async def _status_of(engine: AsyncEngine, source_id: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT status FROM deliveries WHERE source_id = :s ORDER BY id"), {"s": source_id}
        )
        return [str(r) for r in rows.scalars()]


async def test_a_first_time_admin_finds_an_activity_whose_person_has_no_crm_account_and_replays_it(
    browser: Browser, clean_db: AsyncEngine, pg_url: str
) -> None:
    """The acceptance story with the commonest cause: nobody created the doctor's account in the CRM."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with simulated_world() as world:
        org = world.orgs[0]
        await world.connect(clean_db, org, name="EU Medical CRM")
        with bridge_server(world, pg_url, redis_url=None, admin_api_key=ADMIN_KEY) as base:
            person_id = person(world.vault, "HCP-000777")
            activity_id = activity(world.vault, person_id, study(world.vault))["id"]
            await eventually(
                lambda: _status_of(clean_db, activity_id), lambda s: s == ["unmatched"], timeout=30
            )
            async with clean_db.begin() as conn:  # a week passes: longer than unmatched persons are retried
                await conn.execute(
                    text(
                        "UPDATE deliveries SET created_at = created_at - interval '8 days' WHERE source_id = :s"
                    ),
                    {"s": activity_id},
                )
            context = await browser.new_context(viewport={"width": 1360, "height": 900})
            fetched: list[str] = []
            context.on("request", lambda r: fetched.append(r.url))
            page = await context.new_page()
            await sign_in(page, base, ADMIN_KEY)

            # the overview: one delivery waiting for a week; a Transfer run gives up on the person
            row = page.locator("tr:has-text('EU Medical CRM')")
            await expect(row.locator("td").nth(3)).to_have_text("1")  # open
            await expect(row.locator("td").nth(5)).to_have_text(re.compile(r"^8 d "))  # lag
            await page.click("button:has-text('Run the Transfer job now')")
            await expect(page.locator(".notice")).to_contain_text("Transfer run 1 started")
            await eventually(lambda: _status_of(clean_db, activity_id), lambda s: "dead" in s, timeout=30)
            await open_page(page, "Overview")
            runs = page.locator("h2:has-text('Transfer runs') ~ table tbody tr")
            await expect(runs.first).to_contain_text("manual")
            await expect(row.locator("a.dead")).to_have_text("1")

            # why is it missing? the timeline says: no CRM account matched the person
            await open_page(page, "Record timeline")
            await page.fill("input[name=id]", activity_id)
            await page.click("button:has-text('Find')")
            dead = page.locator(".delivery:has(.status-dead)")
            await expect(dead.locator(".status-dead")).to_have_text("dead")
            await expect(dead.locator(".cause")).to_contain_text("PERSON_NOT_MATCHED")
            await expect(dead.locator(".cause")).to_contain_text("no CRM account matched")
            await expect(page.locator("body")).to_contain_text("Not in any target yet.")

            # the cause is fixed where it lives: the account is created in the CRM
            account(org, "HCP-000777")

            # replay the cause's group, dry run first
            await open_page(page, "Dead letters")
            cause = page.locator("tr.cause-row")
            await expect(cause).to_have_count(1)
            await expect(cause).to_contain_text("PERSON_NOT_MATCHED")
            await page.click("button:has-text('Replay 1… (dry run)')")
            await expect(page.locator("#plan")).to_contain_text("would be replayed")
            assert "dead" in await _status_of(clean_db, activity_id)  # the dry run changed nothing
            await page.click("button:has-text('Replay 1 now')")
            await expect(page.locator(".notice")).to_have_text("1 dead letter replayed.")

            # it arrives, and the console shows where
            [arrived] = await eventually(
                lambda: _async(interactions(org)), lambda rows: len(rows) == 1, timeout=30
            )
            assert arrived["Vault_Activity_ID_vod__c"] == activity_id
            await open_page(page, "Record timeline")
            await page.fill("input[name=id]", activity_id)
            await page.click("button:has-text('Find')")
            link = page.locator(f"a[href='{org.url}/{arrived['Id']}']")
            await expect(link).to_have_text(arrived["Id"])
            await expect(page.locator(".delivery .status-delivered").first).to_be_visible()
            await page.fill("input[name=id]", arrived["Id"])  # the CRM's id finds the same story
            await page.click("button:has-text('Find')")
            await expect(page.locator("section.event").first).to_contain_text(activity_id)
            await expect(page.locator(".delivery .status-delivered").first).to_be_visible()
            await open_page(page, "Overview")
            await expect(row.locator("td").nth(6)).not_to_have_text("0")  # delivered in the last hour
            busy = row.locator("svg.chart rect title", has_text=re.compile(r"^[1-9]\d* delivered"))
            await expect(busy.first).to_be_attached()  # the chart's bar for these minutes
            await page.screenshot(path=SHOTS / "overview.png", full_page=True)
            await context.close()
    assert any(u.endswith("/console/static/htmx.min.js") for u in fetched)
    assert [u for u in fetched if not u.startswith(base + "/console/")] == []  # nothing from elsewhere


async def test_a_viewer_gets_no_write_button_and_the_server_refuses_the_post(
    browser: Browser, clean_db: AsyncEngine, pg_url: str
) -> None:
    from tests.api.operator.conftest import add_delivery

    with simulated_world() as world, bridge_server(world, pg_url, None, admin_api_key=ADMIN_KEY) as base:
        context = await browser.new_context()
        page = await context.new_page()
        made = await page.request.post(
            base + "/api/v1/api-keys",
            data={"name": "auditor", "role": "viewer"},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        viewer_key = (await made.json())["key"]
        dead = await add_delivery(clean_db, status="dead")
        await sign_in(page, base, viewer_key)
        await open_page(page, "Dead letters")
        await expect(page.locator("tr.cause-row")).to_have_count(1)
        await expect(page.locator("button:has-text('Replay')")).to_have_count(0)
        csrf = await page.locator("meta[name=csrf-token]").get_attribute("content")
        refused = await page.request.post(
            f"{base}/console/deliveries/{dead}/replay", form={"csrf_token": csrf or ""}
        )
        assert refused.status == 403
        assert "ROLE_INSUFFICIENT" in await refused.text()
        assert [r.id for r in await _dead(clean_db)] == [dead]
        await context.close()


async def _async(value: Any) -> Any:
    return value
