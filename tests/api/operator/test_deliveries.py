"""Fixing failures: replay and discard, one by one or by filter, and what the operator sees of events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.wakeups import DELIVER_JOB
from tests.api.operator.conftest import Api, add_delivery, add_event, problem


async def woken_lanes(redis_url: str) -> set[str]:
    """Lanes with a deliver job waiting in arq's queue (no worker reads this Redis database)."""
    client = aioredis.from_url(redis_url)
    try:
        job_ids = [j.decode() for j in await client.zrange("arq:queue", 0, -1)]
    finally:
        await client.aclose()
    return {j.split(":", 1)[1].rsplit(":", 1)[0] for j in job_ids if j.startswith(DELIVER_JOB + ":")}


async def delivery_row(engine: AsyncEngine, delivery_id: int) -> dict[str, object]:
    async with engine.connect() as conn:
        query = text("SELECT * FROM deliveries WHERE id = :id")
        return dict((await conn.execute(query, {"id": delivery_id})).mappings().one())


async def attempt_count(engine: AsyncEngine, delivery_id: int) -> int:
    async with engine.connect() as conn:
        query = text("SELECT count(*) FROM delivery_attempts WHERE delivery_id = :id")
        return int((await conn.execute(query, {"id": delivery_id})).scalar_one())


async def test_replaying_a_dead_letter_makes_it_due_now_and_wakes_its_lane(
    api: Api, clean_db: AsyncEngine, redis_url: str
) -> None:
    later = datetime.now(UTC) + timedelta(hours=3)
    lane = f"conn_a:{uuid.uuid4().hex}"
    dead = await add_delivery(
        clean_db, status="dead", attempts=3, lane=lane, next_attempt_at=later,
        lease_owner="worker-1", lease_expires_at=later, finished_at=datetime.now(UTC),
    )  # fmt: skip
    assert await woken_lanes(redis_url) == set()
    before = datetime.now(UTC)
    response = await api.post(f"/api/v1/deliveries/{dead}/replay", role="operator")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"
    row = await delivery_row(clean_db, dead)
    assert row["status"] == "pending"
    assert before <= row["next_attempt_at"] <= datetime.now(UTC)  # type: ignore[operator]
    assert (row["lease_owner"], row["lease_expires_at"], row["finished_at"]) == (None, None, None)
    assert (row["attempts"], row["last_error_code"]) == (3, "UNKNOWN_CHANNEL")  # history kept
    assert await attempt_count(clean_db, dead) == 3
    assert await woken_lanes(redis_url) == {lane}
    [entry] = (await api.get("/api/v1/audit-log", params={"action": "delivery.replay"})).json()["items"]
    assert (entry["resource_id"], entry["before"]["status"], entry["after"]["status"]) == (
        str(dead),
        "dead",
        "pending",
    )


async def test_only_finished_or_waiting_failures_can_be_replayed(api: Api, clean_db: AsyncEngine) -> None:
    for status in ("discarded", "unmatched", "stale"):
        delivery = await add_delivery(clean_db, status=status)
        assert (await api.post(f"/api/v1/deliveries/{delivery}/replay", role="operator")).json()[
            "status"
        ] == "pending"
    # awaiting_transfer is left out: it is 17 characters and deliveries.status is VARCHAR(16) (reported)
    for status in ("pending", "in_flight", "delivered", "unchanged"):
        delivery = await add_delivery(clean_db, status=status)
        problem(
            await api.post(f"/api/v1/deliveries/{delivery}/replay", role="operator"),
            409,
            "DELIVERY_NOT_REPLAYABLE",
        )
        assert (await delivery_row(clean_db, delivery))["status"] == status
    problem(await api.post("/api/v1/deliveries/999999/replay", role="operator"), 404, "DELIVERY_NOT_FOUND")


async def test_discard_keeps_the_reason_in_the_audit_log(api: Api, clean_db: AsyncEngine) -> None:
    dead = await add_delivery(clean_db, status="dead")
    response = await api.post(
        f"/api/v1/deliveries/{dead}/discard", {"reason": "study closed"}, role="operator"
    )
    assert response.status_code == 200, response.text
    row = await delivery_row(clean_db, dead)
    assert (row["status"], row["last_error_code"]) == ("discarded", "UNKNOWN_CHANNEL")
    assert row["finished_at"] is not None
    [entry] = (await api.get("/api/v1/audit-log", params={"action": "delivery.discard"})).json()["items"]
    assert entry["after"]["reason"] == "study closed"
    problem(
        await api.post(f"/api/v1/deliveries/{dead}/discard", {"reason": "again"}, role="operator"),
        409,
        "DELIVERY_NOT_DISCARDABLE",
    )
    busy = await add_delivery(clean_db, status="in_flight")
    problem(
        await api.post(f"/api/v1/deliveries/{busy}/discard", {"reason": "x"}, role="operator"),
        409,
        "DELIVERY_NOT_DISCARDABLE",
    )
    problem(
        await api.post(f"/api/v1/deliveries/{busy}/discard", {}, role="operator"), 422, "VALIDATION_FAILED"
    )


async def test_bulk_replay_replays_exactly_what_the_dry_run_counted(
    api: Api, clean_db: AsyncEngine, redis_url: str
) -> None:
    x, y, z, w = (f"lane:{uuid.uuid4().hex}" for _ in range(4))
    wanted = [await add_delivery(clean_db, connection_id="conn_a", lane=x, status="dead") for _ in range(4)]
    wanted += [await add_delivery(clean_db, connection_id="conn_a", lane=y, status="dead")]
    others = [
        await add_delivery(clean_db, connection_id="conn_b", lane=z, status="dead"),  # other connection
        await add_delivery(clean_db, connection_id="conn_a", lane=w, status="unmatched"),  # other status
        await add_delivery(clean_db, connection_id="conn_a", lane=w, status="dead", operation="upsert_study"),
    ]
    query = {"status": ["dead"], "connection_id": "conn_a", "operation": "upsert_interaction"}
    dry = (await api.post("/api/v1/deliveries/replay", {**query, "dry_run": True}, role="operator")).json()
    assert (dry["dry_run"], dry["matched"], dry["replayed"], dry["up_to_id"]) == (True, 5, 0, max(wanted))
    assert {
        d["status"]
        for d in (await api.get("/api/v1/deliveries", params={"connection_id": "conn_a"})).json()["items"]
    } == {"dead", "unmatched"}

    late = await add_delivery(clean_db, connection_id="conn_a", lane=w, status="dead")  # after the count
    pin = {"up_to_id": dry["up_to_id"], "as_of": dry["as_of"], "dry_run": False, "limit": 3}
    first = (await api.post("/api/v1/deliveries/replay", {**query, **pin}, role="operator")).json()
    assert (first["matched"], first["replayed"], first["remaining"]) == (5, 3, 2)
    second = (await api.post("/api/v1/deliveries/replay", {**query, **pin}, role="operator")).json()
    assert (second["replayed"], second["remaining"]) == (2, 0)

    statuses = {d: (await delivery_row(clean_db, d))["status"] for d in [*wanted, *others, late]}
    assert {d for d, s in statuses.items() if s == "pending"} == set(wanted)
    assert statuses[late] == "dead"
    assert await woken_lanes(redis_url) == {x, y}
    entries = (await api.get("/api/v1/audit-log", params={"action": "delivery.replay_bulk"})).json()["items"]
    assert sorted(i for e in entries for i in e["after"]["delivery_ids"]) == sorted(wanted)


async def test_bulk_replay_refuses_statuses_that_are_not_replayable(api: Api) -> None:
    response = await api.post(
        "/api/v1/deliveries/replay", {"status": ["in_flight"], "dry_run": False}, role="operator"
    )
    problem(response, 422, "STATUS_NOT_REPLAYABLE")
    bare = (await api.post("/api/v1/deliveries/replay", {}, role="operator")).json()
    assert (bare["dry_run"], bare["replayed"]) == (True, 0)  # a bare call only counts


async def test_delivery_list_filters(api: Api, clean_db: AsyncEngine) -> None:
    old = await add_delivery(clean_db, status="dead", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    new = await add_delivery(
        clean_db, status="dead", direction="crm_to_ctms", operation="upsert_medical_activity"
    )
    delivered = await add_delivery(clean_db, status="delivered", source_object="study__v")

    async def ids(**params: object) -> list[int]:
        response = await api.get("/api/v1/deliveries", role="viewer", params=params)
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["items"]]

    assert await ids() == [delivered, new, old]
    assert await ids(status="dead") == [new, old]
    assert await ids(status=["dead", "delivered"]) == [delivered, new, old]
    assert await ids(direction="crm_to_ctms") == [new]
    assert await ids(operation="upsert_medical_activity") == [new]
    assert await ids(object="study__v") == [delivered]
    assert await ids(created_before="2026-06-01T00:00:00Z") == [old]
    assert await ids(created_after="2026-06-01T00:00:00Z", status="dead") == [new]
    problem(await api.get("/api/v1/deliveries", params={"status": "lost"}), 422, "VALIDATION_FAILED")
    problem(
        await api.get("/api/v1/deliveries", params={"created_after": "2026-06-01T00:00:00"}),
        422,
        "VALIDATION_FAILED",
    )


async def test_an_event_shows_its_deliveries_and_their_attempts(api: Api, clean_db: AsyncEngine) -> None:
    event = await add_event(clean_db, type="ctms.record.created")
    other = await add_event(
        clean_db, source="crm", sender="conn_a", connection_id="conn_a", type="crm.call.sent_to_vault"
    )
    dead = await add_delivery(clean_db, event_id=event, status="dead", attempts=2)
    ok = await add_delivery(clean_db, event_id=event, status="delivered", connection_id="conn_b")
    detail = (await api.get(f"/api/v1/events/{event}", role="viewer")).json()
    assert [d["id"] for d in detail["deliveries"]] == [dead, ok]
    assert [a["number"] for a in detail["deliveries"][0]["attempt_history"]] == [1, 2]
    assert detail["deliveries"][0]["attempt_history"][0]["error_code"] == "UNKNOWN_CHANNEL"
    assert detail["payload"] == {"type": "ctms.record.updated"}
    listed = (await api.get("/api/v1/events", role="viewer", params={"source": "crm"})).json()["items"]
    assert [e["id"] for e in listed] == [other]
    listed = (
        await api.get("/api/v1/events", params={"type": "ctms.record.created", "connection_id": "conn_a"})
    ).json()
    assert listed["items"] == []
    problem(await api.get("/api/v1/events/999999"), 404, "EVENT_NOT_FOUND")
    problem(await api.get("/api/v1/events/abc"), 422, "VALIDATION_FAILED")


async def test_links_say_where_a_record_went(api: Api, clean_db: AsyncEngine) -> None:
    async with clean_db.begin() as conn:
        for connection_id in ("conn_a", "conn_b"):
            await conn.execute(
                text(
                    "INSERT INTO record_links (connection_id, source_system, source_object, source_id, target_object,"
                    " target_id, last_fields, deleted, updated_at) VALUES (:c, 'ctms', 'crm_activity__v', 'V6A1',"
                    " 'Vault_Clinical_Interaction_vod__c', :t, '{}', false, now())"
                ),
                {"c": connection_id, "t": f"a1X{connection_id}"},
            )
    found = (await api.get("/api/v1/links", role="viewer", params={"system": "ctms", "id": "V6A1"})).json()[
        "items"
    ]
    assert [(link["connection_id"], link["target_id"]) for link in found] == [
        ("conn_a", "a1Xconn_a"),
        ("conn_b", "a1Xconn_b"),
    ]
    none = await api.get("/api/v1/links", params={"system": "crm", "id": "V6A1"})
    assert none.json()["items"] == []
    either = (await api.get("/api/v1/links", params={"id": "V6A1"})).json()["items"]  # no system: either side
    assert [link["connection_id"] for link in either] == ["conn_a", "conn_b"]
    problem(await api.get("/api/v1/links", params={"system": "ctms"}), 422, "VALIDATION_FAILED")
