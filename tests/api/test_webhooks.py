"""Webhook ingestion: every accepted event is stored exactly once; everything else gets a precise error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.main import create_app
from app.signing import generate_secret
from tests.conftest import TEST_CTMS_SECRET, make_settings, running_app
from tests.factories import add_connection, crm_call_event, ctms_event, minutes_ago, signed
from tests.processes import eventually


@pytest.fixture
async def client(clean_db: AsyncEngine, pg_url: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # arq with no worker running: accepted events stay 'received', so the tests see exactly what was stored
    async with running_app(create_app(make_settings(pg_url, redis_url=redis_url))) as client:
        yield client


async def rows(engine: AsyncEngine, sql: str = "SELECT * FROM inbox_events ORDER BY id") -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql))).mappings())


async def committed_connection(engine: AsyncEngine, **kw: Any) -> tuple[str, list[str]]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        connection, secrets = await add_connection(session, **kw)
        await session.commit()
    return connection.id, secrets


async def post_ctms(
    client: httpx.AsyncClient, event: dict[str, Any], secret: str = TEST_CTMS_SECRET, **kw: Any
) -> httpx.Response:
    body, headers = signed(secret, event, **kw)
    return await client.post("/webhooks/ctms", content=body, headers=headers)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["detail"]
    return body


async def test_ctms_event_is_stored_then_accepted(client: httpx.AsyncClient, clean_db: AsyncEngine) -> None:
    event = ctms_event(record={"object_type__v": "clinical_activity__v", "subject__v": "Site visit"})
    response = await post_ctms(client, event, msg_id="msg_ctms_1")
    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    [row] = await rows(clean_db)
    assert row["id"] == response.json()["event_id"]
    assert (row["sender"], row["webhook_id"], row["source"]) == ("ctms", "msg_ctms_1", "ctms")
    assert (row["type"], row["object"], row["record_id"]) == (
        "ctms.record.updated",
        "crm_activity__v",
        event["data"]["id"],
    )
    assert row["status"] == "received"
    assert row["payload"] == event
    assert row["source_modified_at"].isoformat() == "2026-11-20T10:14:58+00:00"


async def test_same_webhook_id_twice_is_a_duplicate_and_stores_nothing_more(
    client: httpx.AsyncClient, clean_db: AsyncEngine
) -> None:
    event = ctms_event()
    first = await post_ctms(client, event, msg_id="msg_dup")
    second = await post_ctms(client, event, msg_id="msg_dup")
    assert first.json()["status"] == "accepted"
    assert second.status_code == 202
    assert second.json() == {"event_id": first.json()["event_id"], "status": "duplicate"}
    assert len(await rows(clean_db)) == 1


async def test_wrong_secret_is_rejected(client: httpx.AsyncClient, clean_db: AsyncEngine) -> None:
    problem(await post_ctms(client, ctms_event(), secret=generate_secret()), 401, "SIGNATURE_INVALID")
    assert await rows(clean_db) == []


async def test_rotated_secrets_both_verify(clean_db: AsyncEngine, pg_url: str, redis_url: str) -> None:
    new = generate_secret()
    settings = make_settings(pg_url, redis_url=redis_url, ctms_webhook_secrets=f"{TEST_CTMS_SECRET} {new}")
    async with running_app(create_app(settings)) as client:
        assert (await post_ctms(client, ctms_event(), secret=TEST_CTMS_SECRET)).status_code == 202
        assert (await post_ctms(client, ctms_event(), secret=new)).status_code == 202


async def test_several_signatures_in_one_header_any_valid_one_is_enough(client: httpx.AsyncClient) -> None:
    body, headers = signed(TEST_CTMS_SECRET, ctms_event())
    _, wrong = signed(generate_secret(), body, msg_id=headers["webhook-id"])
    headers["webhook-signature"] = f"{wrong['webhook-signature']} v2,ignored {headers['webhook-signature']}"
    assert (await client.post("/webhooks/ctms", content=body, headers=headers)).status_code == 202


async def test_tampered_body_is_rejected(client: httpx.AsyncClient, clean_db: AsyncEngine) -> None:
    body, headers = signed(TEST_CTMS_SECRET, ctms_event())
    tampered = body.replace(b"ctms.record.updated", b"ctms.record.deleted")
    problem(await client.post("/webhooks/ctms", content=tampered, headers=headers), 401, "SIGNATURE_INVALID")
    assert await rows(clean_db) == []


@pytest.mark.parametrize("minutes", [6, -6])
async def test_timestamps_outside_five_minutes_are_rejected(client: httpx.AsyncClient, minutes: int) -> None:
    response = await post_ctms(client, ctms_event(), at=minutes_ago(minutes))
    problem(response, 401, "TIMESTAMP_OUT_OF_TOLERANCE")


async def test_timestamps_inside_tolerance_are_accepted(client: httpx.AsyncClient) -> None:
    assert (await post_ctms(client, ctms_event(), at=minutes_ago(4))).status_code == 202
    assert (await post_ctms(client, ctms_event(), at=minutes_ago(-4))).status_code == 202


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
async def test_missing_signature_headers_are_rejected(client: httpx.AsyncClient, missing: str) -> None:
    body, headers = signed(TEST_CTMS_SECRET, ctms_event())
    del headers[missing]
    problem(
        await client.post("/webhooks/ctms", content=body, headers=headers), 401, "SIGNATURE_HEADERS_MISSING"
    )


async def test_oversized_body_is_rejected(client: httpx.AsyncClient, clean_db: AsyncEngine) -> None:
    event = ctms_event(record={"subject__v": "x" * (257 * 1024)})
    problem(await post_ctms(client, event), 413, "BODY_TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: the limit holds while streaming
        for _ in range(300):
            yield b"x" * 1024

    _body, headers = signed(TEST_CTMS_SECRET, b"{}")
    response = await client.post("/webhooks/ctms", content=chunks(), headers=headers)
    problem(response, 413, "BODY_TOO_LARGE")
    assert await rows(clean_db) == []


async def test_non_json_is_rejected(client: httpx.AsyncClient) -> None:
    body, headers = signed(TEST_CTMS_SECRET, b"type=ctms.record.updated")
    headers["content-type"] = "application/x-www-form-urlencoded"
    problem(await client.post("/webhooks/ctms", content=body, headers=headers), 415, "UNSUPPORTED_MEDIA_TYPE")
    body, headers = signed(TEST_CTMS_SECRET, b"{not json")
    problem(await client.post("/webhooks/ctms", content=body, headers=headers), 415, "BODY_NOT_JSON")


@pytest.mark.parametrize(
    "envelope",
    [
        {"timestamp": "2026-11-20T10:15:00Z", "data": {"object": "study__v", "id": "V1"}},  # no type
        {
            "type": "ctms.record.exploded",
            "timestamp": "2026-11-20T10:15:00Z",
            "data": {"object": "study__v", "id": "V1"},
        },
        {"type": "ctms.record.updated", "timestamp": "yesterday", "data": {"object": "study__v", "id": "V1"}},
        {
            "type": "ctms.record.updated",
            "timestamp": "2026-11-20T10:15:00Z",
            "data": {"id": "V1"},
        },  # no object
        {
            "type": "ctms.record.updated",
            "timestamp": "2026-11-20T10:15:00Z",
            "data": {"object": "Study", "id": "V1"},
        },
        {
            "type": "ctms.record.updated",
            "timestamp": "2026-11-20T10:15:00Z",
            "data": {"object": "study__v", "id": "V1", "record": {"id": "V2"}},
        },
        ["not", "an", "object"],
    ],
)
async def test_invalid_envelopes_are_rejected_with_details(
    client: httpx.AsyncClient, envelope: Any, clean_db: AsyncEngine
) -> None:
    body, headers = signed(TEST_CTMS_SECRET, json.dumps(envelope).encode())
    problem(await client.post("/webhooks/ctms", content=body, headers=headers), 422, "ENVELOPE_INVALID")
    assert await rows(clean_db) == []


async def test_crm_event_is_verified_with_the_connections_own_secret(
    client: httpx.AsyncClient, clean_db: AsyncEngine
) -> None:
    connection_id, [secret] = await committed_connection(clean_db)
    event = crm_call_event(call_id="a0B5g00000XyZ12EAF")
    body, headers = signed(secret, event)
    response = await client.post(f"/webhooks/crm/{connection_id}", content=body, headers=headers)
    assert response.status_code == 202, response.text
    [row] = await rows(clean_db)
    assert (row["sender"], row["connection_id"], row["record_id"]) == (
        connection_id,
        connection_id,
        "a0B5g00000XyZ12EAF",
    )
    assert row["source_modified_at"].isoformat() == "2026-11-20T10:14:59+00:00"
    # the CTMS secret does not open a CRM connection's endpoint
    body, headers = signed(TEST_CTMS_SECRET, event)
    problem(
        await client.post(f"/webhooks/crm/{connection_id}", content=body, headers=headers),
        401,
        "SIGNATURE_INVALID",
    )


async def test_same_webhook_id_from_two_connections_is_two_events(
    client: httpx.AsyncClient, clean_db: AsyncEngine
) -> None:
    first, [s1] = await committed_connection(clean_db)
    second, [s2] = await committed_connection(clean_db)
    for connection_id, secret in ((first, s1), (second, s2)):
        body, headers = signed(secret, crm_call_event(), msg_id="msg_same")
        assert (await client.post(f"/webhooks/crm/{connection_id}", content=body, headers=headers)).json()[
            "status"
        ] == "accepted"
    assert len(await rows(clean_db)) == 2


async def test_crm_deleted_event_shape(client: httpx.AsyncClient, clean_db: AsyncEngine) -> None:
    connection_id, [secret] = await committed_connection(clean_db)
    ok = {
        "type": "crm.call.deleted",
        "timestamp": "2026-11-20T10:15:00Z",
        "data": {"Id": "a0B1", "deleted_at": "2026-11-20T10:14:00.000+0000"},
    }
    body, headers = signed(secret, ok)
    assert (
        await client.post(f"/webhooks/crm/{connection_id}", content=body, headers=headers)
    ).status_code == 202
    bad = {
        "type": "crm.call.deleted",
        "timestamp": "2026-11-20T10:15:00Z",
        "data": {"deleted_at": "2026-11-20T10:14:00Z"},
    }
    body, headers = signed(secret, bad)
    problem(
        await client.post(f"/webhooks/crm/{connection_id}", content=body, headers=headers),
        422,
        "ENVELOPE_INVALID",
    )


async def test_unknown_and_inactive_connections_are_not_found(
    client: httpx.AsyncClient, clean_db: AsyncEngine
) -> None:
    body, headers = signed(generate_secret(), crm_call_event())
    problem(
        await client.post("/webhooks/crm/conn_missing", content=body, headers=headers),
        404,
        "CONNECTION_NOT_FOUND",
    )
    inactive, [secret] = await committed_connection(clean_db, active=False)
    body, headers = signed(secret, crm_call_event())
    problem(
        await client.post(f"/webhooks/crm/{inactive}", content=body, headers=headers),
        404,
        "CONNECTION_NOT_FOUND",
    )
    assert await rows(clean_db) == []


async def test_database_down_answers_503_never_202(redis_url: str) -> None:
    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/bridge", redis_url=redis_url)
    async with running_app(create_app(settings)) as client:
        ctms = await post_ctms(client, ctms_event())
        body, headers = signed(generate_secret(), crm_call_event())
        crm = await client.post("/webhooks/crm/conn_any", content=body, headers=headers)
    for response in (ctms, crm):
        problem(response, 503, "STORE_UNAVAILABLE")
        assert response.headers["retry-after"]


async def test_two_hundred_concurrent_deliveries_of_one_webhook_id_store_one_row(
    client: httpx.AsyncClient, clean_db: AsyncEngine
) -> None:
    body, headers = signed(TEST_CTMS_SECRET, ctms_event(), msg_id="msg_storm")
    responses = await asyncio.gather(
        *(client.post("/webhooks/ctms", content=body, headers=headers) for _ in range(200))
    )
    assert {r.status_code for r in responses} == {202}
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("accepted") == 1
    assert statuses.count("duplicate") == 199
    assert len({r.json()["event_id"] for r in responses}) == 1
    assert len(await rows(clean_db)) == 1


async def test_metrics_count_outcomes(client: httpx.AsyncClient) -> None:
    await post_ctms(client, ctms_event(), msg_id="msg_m1")
    await post_ctms(client, ctms_event(), msg_id="msg_m1")
    await post_ctms(client, ctms_event(), secret=generate_secret())
    text_ = (await client.get("/metrics")).text
    assert 'bridge_webhook_events_total{outcome="accepted",reason="",source="ctms"}' in text_
    assert 'bridge_webhook_events_total{outcome="duplicate",reason="",source="ctms"}' in text_
    assert 'bridge_webhook_events_total{outcome="rejected",reason="SIGNATURE_INVALID",source="ctms"}' in text_
    assert "bridge_webhook_ingest_seconds_bucket" in text_


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "ctms.record.updated", "timestamp": "2026-11-20T10:15:00Z", '
        b'"data": {"object": "study__v", "id": "V1", "record": {"id": "V1", "name__v": "a\\u0000b"}}}',
        b'{"type": "ctms.record.updated", "timestamp": "2026-11-20T10:15:00Z", '
        b'"data": {"object": "study__v", "id": "V1", "record": {"id": "V1", "name__v": "a\\ud800b"}}}',
        b'{"type": "ctms.record.updated", "timestamp": "2026-11-20T10:15:00Z", "data": "a\x00b"}',
    ],
    ids=["escaped-nul", "lone-surrogate", "raw-nul"],
)
async def test_bodies_postgresql_cannot_store_get_422_not_503(
    client: httpx.AsyncClient, clean_db: AsyncEngine, body: bytes
) -> None:
    signed_body, headers = signed(TEST_CTMS_SECRET, body)
    response = await client.post("/webhooks/ctms", content=signed_body, headers=headers)
    problem(response, 422, "BODY_UNSTORABLE")
    assert await rows(clean_db) == []


async def test_nul_in_the_connection_id_is_not_found_not_503(client: httpx.AsyncClient) -> None:
    body, headers = signed(generate_secret(), crm_call_event())
    response = await client.post("/webhooks/crm/a%00b", content=body, headers=headers)
    problem(response, 404, "CONNECTION_NOT_FOUND")


async def _terminate_inserts_waiting_on_lock(admin: AsyncEngine, want: int) -> int:
    """Kill the backends stuck on our lock while inserting webhook events: a connection lost mid-batch."""
    async with admin.connect() as conn:
        killed = (
            await conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO inbox_events%' "
                    "AND datname = current_database()"
                )
            )
        ).scalar_one()
    return int(killed) if killed >= want else 0


async def test_a_batch_whose_connection_dies_answers_503_to_every_request_in_it(
    client: httpx.AsyncClient, clean_db: AsyncEngine
) -> None:
    """Group commit: concurrent requests share one commit; when it fails, none of them hears 202, and the
    senders' retries are then stored, each once."""
    bodies = [signed(TEST_CTMS_SECRET, ctms_event(), msg_id=f"msg_outage_{n}") for n in range(20)]
    async with clean_db.connect() as locker:
        await locker.execute(text("BEGIN"))
        await locker.execute(text("LOCK TABLE inbox_events IN ACCESS EXCLUSIVE MODE"))
        posts = asyncio.gather(
            *(client.post("/webhooks/ctms", content=body, headers=headers) for body, headers in bodies)
        )
        posted = asyncio.ensure_future(posts)
        for _attempt in range(2):  # the writer retries a broken connection once, on a fresh one
            await eventually(lambda: _terminate_inserts_waiting_on_lock(clean_db, 1), timeout=10)
        responses = await posted
        await locker.execute(text("ROLLBACK"))
    for response in responses:
        problem(response, 503, "STORE_UNAVAILABLE")
        assert response.headers["retry-after"]
    assert await rows(clean_db) == []
    retried = await asyncio.gather(
        *(client.post("/webhooks/ctms", content=body, headers=headers) for body, headers in bodies)
    )
    assert [r.json()["status"] for r in retried] == ["accepted"] * 20
    assert len(await rows(clean_db)) == 20
