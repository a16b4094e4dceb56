"""/api/v1/initial-loads (issue 16): start one, one at a time, follow it, resume a failed one; roles."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.operator.conftest import Api, connection_body, problem

BASE = "/api/v1/initial-loads"


async def test_a_load_is_recorded_queued_and_only_one_runs_at_a_time(api: Api, clean_db: AsyncEngine) -> None:
    assert (await api.post(BASE, {}, role="viewer")).status_code == 403
    started = await api.post(BASE, {"since": "2026-01-01T00:00:00Z"}, role="operator")
    assert started.status_code == 202, started.text
    load = started.json()
    assert (load["status"], load["trigger"], load["since"]) == ("queued", "manual", "2026-01-01T00:00:00Z")
    assert load["sources"] == []
    assert load["read"] == 0

    problem(await api.post(BASE, {}), 409, "INITIAL_LOAD_IN_PROGRESS")
    listed = (await api.get(BASE, role="viewer")).json()
    assert [item["id"] for item in listed["items"]] == [load["id"]]
    shown = (await api.get(f"{BASE}/{load['id']}", role="viewer")).json()
    assert shown["id"] == load["id"]
    assert shown["events"] == {}
    assert shown["deliveries"] == {}
    problem(await api.get(f"{BASE}/999999"), 404, "INITIAL_LOAD_NOT_FOUND")
    problem(await api.post(f"{BASE}/{load['id']}/resume"), 409, "INITIAL_LOAD_NOT_RESUMABLE")

    audit = (await api.get("/api/v1/audit-log", params={"action": "initial_load.start"})).json()["items"]
    assert [a["resource_id"] for a in audit] == [str(load["id"])]


async def test_bad_requests_are_refused_with_their_code(api: Api) -> None:
    problem(await api.post(BASE, {"since": "yesterday"}), 422, "VALIDATION_FAILED")
    problem(await api.post(BASE, {"since": "2026-01-01T00:00:00"}), 422, "VALIDATION_FAILED")  # no zone
    problem(await api.post(BASE, {"surprise": 1}), 422, "VALIDATION_FAILED")
    problem(await api.post(BASE, {"connection_id": "conn_missing"}), 404, "CONNECTION_NOT_FOUND")
    created = await api.post("/api/v1/connections", connection_body())
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    await api.post(f"/api/v1/connections/{connection_id}/deactivate")
    problem(await api.post(BASE, {"connection_id": connection_id}), 409, "CONNECTION_INACTIVE")


async def test_only_a_failed_load_resumes_and_it_keeps_its_cursors(api: Api, clean_db: AsyncEngine) -> None:
    cursors = '{"ctms:study__v": {"label": "ctms/study__v", "order": 0, "after": "2026-11-01T00:00:00.000Z", "offset": 1, "pages": 1, "read": 1, "stored": 1, "total": 1, "done": true}}'
    async with clean_db.begin() as conn:
        failed = await conn.scalar(
            text(
                "INSERT INTO initial_loads (status, trigger, requested_by, created_at, cursors, errors)"
                " VALUES ('failed', 'manual', 'x', now(), CAST(:c AS jsonb), '[{\"code\": \"VAULT_DOWN\"}]') RETURNING id"
            ),
            {"c": cursors},
        )
        done = await conn.scalar(
            text(
                "INSERT INTO initial_loads (status, trigger, requested_by, created_at, cursors, errors)"
                " VALUES ('succeeded', 'manual', 'x', now(), '{}', '[]') RETURNING id"
            )
        )
    problem(await api.post(f"{BASE}/{done}/resume"), 409, "INITIAL_LOAD_NOT_RESUMABLE")
    assert (await api.post(f"{BASE}/{failed}/resume", role="viewer")).status_code == 403
    resumed = await api.post(f"{BASE}/{failed}/resume", role="operator")
    assert resumed.status_code == 202, resumed.text
    body = resumed.json()
    assert (body["status"], body["errors"]) == ("queued", [])
    [source] = body["sources"]
    assert (source["label"], source["read"], source["done"]) == ("ctms/study__v", 1, True)
    assert body["total"] == 1


async def test_activating_with_an_initial_load_starts_one_for_that_connection(api: Api) -> None:
    first = (await api.post("/api/v1/connections", connection_body())).json()["id"]
    second = (await api.post("/api/v1/connections", connection_body())).json()["id"]
    activated = await api.post(f"/api/v1/connections/{first}/activate?initial_load=true")
    assert activated.status_code == 200, activated.text
    assert activated.json()["active"] is True
    load = (await api.get(activated.headers["Location"])).json()
    assert (load["trigger"], load["connection_id"], load["status"]) == ("activation", first, "queued")

    # one load at a time: the second activation is refused whole, the connection stays inactive
    problem(
        await api.post(f"/api/v1/connections/{second}/activate?initial_load=true"),
        409,
        "INITIAL_LOAD_IN_PROGRESS",
    )
    assert (await api.get(f"/api/v1/connections/{second}")).json()["active"] is False
    plain = await api.post(f"/api/v1/connections/{second}/activate")
    assert plain.status_code == 200
    assert "Location" not in plain.headers


async def test_two_requests_at_once_start_one_load(api: Api) -> None:
    import asyncio

    answers = await asyncio.gather(*(api.post(BASE, {}, role="operator") for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [202, 409, 409, 409]
