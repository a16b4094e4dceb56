"""Every console page, in-process: sign-in and its cookie, what each role sees, and writes refused."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.operator.conftest import add_delivery, add_event
from tests.console.conftest import Console
from tests.jwt_keys import key_pair

PAGES = [
    "/console/",
    "/console/records",
    "/console/dead-letters",
    "/console/connections",
    "/console/settings",
    "/console/audit-log",
]


async def test_pages_need_a_sign_in(console: Console) -> None:
    for path in [*PAGES, "/console/api-keys"]:
        response = await console.client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/sign-in?next=")


async def test_sign_in_sets_a_strict_http_only_cookie_without_the_key(console: Console) -> None:
    response = await console.client.post("/console/sign-in", data={"api_key": console.keys["viewer"]})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "Path=/console" in cookie
    assert console.keys["viewer"] not in cookie


async def test_a_wrong_key_is_refused_with_a_message(console: Console) -> None:
    response = await console.client.post("/console/sign-in", data={"api_key": "brk_not-a-key"})
    assert response.status_code == 401
    assert "not known to this bridge" in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
async def test_every_page_renders_for_every_role(console: Console, clean_db: AsyncEngine, role: str) -> None:
    await add_delivery(
        clean_db, status="dead", last_error="Call Channel: bad value for restricted picklist field: X_vod"
    )
    await console.sign_in(role)
    for path in PAGES:
        response = await console.client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert "text/html" in response.headers["content-type"]
    keys_page = await console.client.get("/console/api-keys")
    assert keys_page.status_code == (200 if role == "admin" else 403)
    overview = (await console.client.get("/console/")).text
    assert ("API keys</a>" in overview) is (role == "admin")
    assert ("Run the Transfer job now" in overview) is (role != "viewer")
    dead = (await console.client.get("/console/dead-letters")).text
    assert ("(dry run)" in dead) is (role != "viewer")


async def test_a_viewer_post_is_refused_by_the_server(console: Console, clean_db: AsyncEngine) -> None:
    delivery_id = await add_delivery(clean_db, status="dead")
    csrf = await console.sign_in("viewer")
    response = await console.client.post(
        f"/console/deliveries/{delivery_id}/replay", data={"csrf_token": csrf}
    )
    assert response.status_code == 403
    assert "ROLE_INSUFFICIENT" in response.text
    async with clean_db.connect() as conn:
        status = (
            await conn.execute(text("SELECT status FROM deliveries WHERE id = :i"), {"i": delivery_id})
        ).scalar()
    assert status == "dead"


async def test_writes_need_the_csrf_token_and_the_same_site(console: Console, clean_db: AsyncEngine) -> None:
    delivery_id = await add_delivery(clean_db, status="dead")
    csrf = await console.sign_in("operator")
    missing = await console.client.post(f"/console/deliveries/{delivery_id}/replay", data={})
    assert missing.status_code == 403
    wrong = await console.client.post(
        f"/console/deliveries/{delivery_id}/replay", data={"csrf_token": "0" * 64}
    )
    assert wrong.status_code == 403
    cross = await console.client.post(
        f"/console/deliveries/{delivery_id}/replay",
        data={"csrf_token": csrf},
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert cross.status_code == 403
    ok = await console.client.post(f"/console/deliveries/{delivery_id}/replay", data={"csrf_token": csrf})
    assert ok.status_code == 200, ok.text
    assert f"Delivery {delivery_id} is pending again" in ok.text


async def test_dead_letters_grouped_by_cause_then_a_group_replayed_after_a_dry_run(
    console: Console, clean_db: AsyncEngine
) -> None:
    picklist = [
        await add_delivery(clean_db, status="dead", last_error_code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                           last_error=f"Call Channel: bad value for restricted picklist field: Face_to_face_vod (record V6A00000000{n})")
        for n in range(3)
    ]  # fmt: skip
    other = await add_delivery(
        clean_db, status="dead", last_error_code="PERSON_NOT_MATCHED", last_error="no account"
    )
    csrf = await console.sign_in("operator")
    page = (await console.client.get("/console/dead-letters")).text
    assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in page
    assert '<td class="count">3</td>' in page
    assert '<td class="count">1</td>' in page
    key = page.split('data-cause="')[1].split('"')[0]  # the largest group comes first
    dry = await console.client.post(
        f"/console/dead-letters/{key}/dry-run", data={"csrf_token": csrf, "action": "replay"}
    )
    assert dry.status_code == 200
    assert "<strong>3</strong> dead letters" in dry.text
    up_to_id = dry.text.split('name="up_to_id" value="')[1].split('"')[0]
    as_of = dry.text.split('name="as_of" value="')[1].split('"')[0]
    late = await add_delivery(clean_db, status="dead", last_error_code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                              last_error="Call Channel: bad value for restricted picklist field: Face_to_face_vod (record V6A000000009)")  # fmt: skip
    done = await console.client.post(
        f"/console/dead-letters/{key}/replay", data={"csrf_token": csrf, "up_to_id": up_to_id, "as_of": as_of}
    )
    assert done.status_code == 200, done.text
    assert "3 dead letters replayed." in done.text
    async with clean_db.connect() as conn:
        rows = dict((await conn.execute(text("SELECT id, status FROM deliveries"))).all())
        audit = (
            await conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'delivery.replay'"))
        ).scalar()
    assert [rows[i] for i in picklist] == ["pending"] * 3
    assert rows[other] == "dead"
    assert rows[late] == "dead"  # appeared after the dry run: not swept along
    assert audit == 3


async def test_a_record_timeline_shows_the_event_delivery_and_the_targets_answer(
    console: Console, clean_db: AsyncEngine
) -> None:
    event_id = await add_event(clean_db, record_id="V6A000000004242")
    await add_delivery(clean_db, status="dead", attempts=2, event_id=event_id, source_id="V6A000000004242",
                       last_error="Call Channel: bad value")  # fmt: skip
    await console.sign_in("viewer")
    page = (await console.client.get("/console/records", params={"id": "V6A000000004242"})).text
    assert "ctms.record.updated" in page
    assert "upsert_interaction" in page
    assert "UNKNOWN_CHANNEL" in page
    assert page.count("salesforce test") == 2  # each attempt, with its target
    assert "Replay…" not in page  # a viewer gets no write buttons
    assert "is a dead letter (UNKNOWN_CHANNEL): fix the cause, then replay it." in page  # in short, first
    nothing = (await console.client.get("/console/records", params={"id": "V6A999"})).text
    assert "has seen nothing about" in nothing


async def test_an_admin_creates_a_connection_and_sees_the_secret_once(console: Console) -> None:
    csrf = await console.sign_in("admin")
    form = {
        "csrf_token": csrf, "name": "EU CRM", "platform": "salesforce", "crm_login_url": "https://eu.my.salesforce.com",
        "crm_client_id": "cid", "crm_client_secret": "console-secret-1", "crm_api_version": "v62.0",
        "object_names": '{"picklists": {"channel": {"in_person": "In_Person_vod"}}}',
    }  # fmt: skip
    created = await console.client.post("/console/connections", data=form)
    assert created.status_code == 200, created.text
    assert 'id="new-secret">whsec_' in created.text
    assert "console-secret-1" not in created.text
    bad = await console.client.post(
        "/console/connections", data={**form, "name": "X", "object_names": "{nope"}
    )
    assert bad.status_code == 422
    assert "object names: not valid JSON" in bad.text
    unknown = await console.client.post(
        "/console/connections", data={**form, "name": "Y", "object_names": '{"picklistz": {}}'}
    )
    assert unknown.status_code == 422
    assert "INVALID_OBJECT_NAMES" in unknown.text
    await console.sign_in("operator")
    listed = (await console.client.get("/console/connections")).text
    assert "EU CRM" in listed
    assert "New connection" not in listed


async def test_an_admin_creates_a_jwt_bearer_connection_and_the_key_is_never_shown(console: Console) -> None:
    csrf = await console.sign_in("admin")
    private_key = key_pair().private_key
    form = {
        "csrf_token": csrf, "name": "JWT CRM", "platform": "salesforce", "crm_login_url": "https://login.salesforce.com",
        "crm_auth": "jwt_bearer", "crm_client_id": "3MVG9-jwt", "crm_username": "integration@example.com",
        "crm_private_key": private_key, "crm_client_secret": "", "crm_audience": "", "crm_api_version": "",
    }  # fmt: skip
    created = await console.client.post("/console/connections", data=form)
    assert created.status_code == 200, created.text
    assert 'id="new-secret">whsec_' in created.text
    assert private_key.splitlines()[1] not in created.text
    connection_id = created.text.split('action="/console/connections/')[1].split("/")[0]
    edit = (await console.client.get(f"/console/connections/{connection_id}")).text
    assert 'value="jwt_bearer" selected' in edit
    assert private_key.splitlines()[1] not in edit
    shared = {**form, "name": "Shared", "crm_auth": "client_credentials", "crm_client_secret": "s"}
    refused = await console.client.post("/console/connections", data=shared)
    assert refused.status_code == 422
    assert "MY_DOMAIN_REQUIRED" in refused.text


async def test_an_active_connection_is_not_deleted_and_the_page_says_why(console: Console) -> None:
    csrf = await console.sign_in("admin")
    form = {"csrf_token": csrf, "name": "Live CRM", "platform": "salesforce", "active": "on",
            "crm_login_url": "https://live.my.salesforce.com", "crm_client_id": "cid", "crm_client_secret": "s"}  # fmt: skip
    created = await console.client.post("/console/connections", data=form)
    assert created.status_code == 200, created.text
    connection_id = created.text.split('action="/console/connections/')[1].split("/")[0]
    assert "Delete</button>" not in created.text  # offered only once inactive
    refused = await console.client.post(
        f"/console/connections/{connection_id}/delete", data={"csrf_token": csrf}
    )
    assert refused.status_code == 409
    assert 'class="error"' in refused.text
    assert "Live CRM" in refused.text  # still on the connection's page
    await console.client.post(f"/console/connections/{connection_id}/deactivate", data={"csrf_token": csrf})
    deleted = await console.client.post(
        f"/console/connections/{connection_id}/delete", data={"csrf_token": csrf}
    )
    assert deleted.status_code == 200
    assert f"Connection {connection_id} deleted; 0 waiting deliveries discarded." in deleted.text
    assert "No connections yet." in deleted.text


async def test_signing_in_returns_to_the_page_asked_for_with_its_query(console: Console) -> None:
    asked = await console.client.get("/console/records", params={"id": "V6A000000004242"})
    assert asked.status_code == 303
    page = await console.client.get(asked.headers["location"])
    next_value = page.text.split('name="next" value="')[1].split('"')[0]
    assert next_value == "/console/records?id=V6A000000004242"
    signed = await console.client.post(
        "/console/sign-in", data={"api_key": console.keys["viewer"], "next": next_value}
    )
    assert signed.headers["location"] == "/console/records?id=V6A000000004242"
    elsewhere = await console.client.post(
        "/console/sign-in", data={"api_key": console.keys["viewer"], "next": "https://evil.example/console/"}
    )
    assert elsewhere.headers["location"] == "/console/"  # never an open redirect


async def test_a_field_the_console_cannot_take_is_answered_with_a_page(console: Console) -> None:
    csrf = await console.sign_in("operator")
    long_id = await console.client.get("/console/records", params={"id": "V" * 65})
    assert long_id.status_code == 422
    assert "text/html" in long_id.headers["content-type"]
    assert "VALIDATION_FAILED" in long_id.text
    assert "<h1>Not done</h1>" in long_id.text
    tampered = await console.client.post(
        "/console/dead-letters/0123456789abcdef/replay",
        data={"csrf_token": csrf, "up_to_id": "many", "as_of": "2026-11-20T10:00:00+00:00"},
    )
    assert tampered.status_code == 422
    assert "up_to_id" in tampered.text
    missing = await console.client.get("/console/connections/conn_nothing")
    assert missing.status_code == 404
    assert "<h1>Not found</h1>" in missing.text
