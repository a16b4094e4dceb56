"""/api/v1/reconciliations (issue 16): one run at a time, its drifts paged and filtered, a repair that is a
dry run unless told otherwise; roles, and a clear code for each refusal. The `bridge reconcile` commands
read the same answers (table, --json, --csv)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.operator.conftest import Api, connection_body, problem

BASE = "/api/v1/reconciliations"


async def seeded_run(engine: AsyncEngine, connection_id: str, status: str = "succeeded") -> int:
    """A finished run with one drift of three kinds, as a run would have stored them."""
    async with engine.begin() as conn:
        run_id = int(
            await conn.scalar(
                text(
                    "INSERT INTO reconciliations (status, requested_by, created_at, checked, counts, calls, errors)"
                    " VALUES (:s, 'x', now(), 3, CAST(:c AS jsonb), '{\"ctms\": 1}', '[]') RETURNING id"
                ),
                {
                    "s": status,
                    "c": json.dumps(
                        {"changed_in_target": 1, "in_target_without_source": 1, "deleted_in_source": 1}
                    ),
                },
            )
        )
        for kind, source_id, fields in (
            (
                "changed_in_target",
                "V6A1",
                [{"field": "Subject_vod__c", "bridge_wrote": "a", "target_has": "b"}],
            ),
            ("in_target_without_source", "V6A2", []),
            ("deleted_in_source", "V6A3", []),
        ):
            await conn.execute(
                text(
                    "INSERT INTO reconciliation_drifts (reconciliation_id, connection_id, kind, source_system,"
                    " source_object, source_id, target_object, target_id, fields)"
                    " VALUES (:r, :c, :k, 'ctms', 'crm_activity__v', :i, 'Vault_Clinical_Interaction_vod__c', 'a0X1', CAST(:f AS jsonb))"
                ),
                {"r": run_id, "c": connection_id, "k": kind, "i": source_id, "f": json.dumps(fields)},
            )
    return run_id


async def test_runs_one_at_a_time_and_refusals_have_codes(api: Api) -> None:
    assert (await api.post(BASE, role="viewer")).status_code == 403
    started = await api.post(BASE, role="operator")
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    problem(await api.post(BASE), 409, "RECONCILIATION_IN_PROGRESS")
    problem(await api.get(f"{BASE}/999999"), 404, "RECONCILIATION_NOT_FOUND")
    problem(await api.get(f"{BASE}/999999/drifts"), 404, "RECONCILIATION_NOT_FOUND")
    run_id = started.json()["id"]
    problem(await api.post(f"{BASE}/{run_id}/repair", {}), 409, "RECONCILIATION_NOT_FINISHED")
    problem(await api.post(f"{BASE}/{run_id}/repair", {"kinds": ["everything"]}), 422, "VALIDATION_FAILED")
    problem(await api.get(f"{BASE}/{run_id}/drifts", params={"kind": "nonsense"}), 422, "VALIDATION_FAILED")


async def test_drifts_page_filter_and_a_repair_is_a_dry_run_by_default(
    api: Api, clean_db: AsyncEngine
) -> None:
    created = await api.post("/api/v1/connections", connection_body())
    connection_id = created.json()["id"]
    assert (await api.post(f"/api/v1/connections/{connection_id}/activate")).status_code == 200
    run_id = await seeded_run(clean_db, connection_id)

    first = (await api.get(f"{BASE}/{run_id}/drifts", role="viewer", params={"limit": 2})).json()
    second = (
        await api.get(f"{BASE}/{run_id}/drifts", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [d["source_id"] for d in first["items"] + second["items"]] == ["V6A1", "V6A2", "V6A3"]
    only = (await api.get(f"{BASE}/{run_id}/drifts", params={"kind": "changed_in_target"})).json()["items"]
    assert only[0]["fields"] == [{"field": "Subject_vod__c", "bridge_wrote": "a", "target_has": "b"}]

    assert (await api.post(f"{BASE}/{run_id}/repair", {}, role="viewer")).status_code == 403
    dry = await api.post(f"{BASE}/{run_id}/repair", {}, role="operator")
    assert dry.status_code == 200, dry.text
    plan = dry.json()
    assert plan["dry_run"] is True
    assert {(a["source_id"], a["action"]) for a in plan["actions"]} == {
        ("V6A1", "resend"),
        ("V6A3", "mark_deleted"),
    }
    assert [s["source_id"] for s in plan["skipped"]] == ["V6A2"]
    async with clean_db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM inbox_events")) == 0  # a dry run stores nothing

    one = (await api.post(f"{BASE}/{run_id}/repair", {"dry_run": False, "source_ids": ["V6A1"]})).json()
    assert one["events"] == 1
    async with clean_db.connect() as conn:
        [event] = (await conn.execute(text("SELECT webhook_id, type, record_id FROM inbox_events"))).all()
    assert (event.type, event.record_id) == ("ctms.record.updated", "V6A1")
    assert event.webhook_id.startswith(f"repair:{run_id}:")
    again = (await api.post(f"{BASE}/{run_id}/repair", {"dry_run": False, "source_ids": ["V6A1"]})).json()
    assert again["events"] == 0  # repaired once
    audit = (await api.get("/api/v1/audit-log", params={"action": "reconciliation.repair"})).json()["items"]
    assert len(audit) == 1


async def test_a_resync_names_its_records_and_refuses_what_it_cannot_do(
    api: Api, clean_db: AsyncEngine
) -> None:
    body = {
        "connection_id": "conn_missing",
        "source_system": "ctms",
        "source_object": "crm_activity__v",
        "source_ids": ["V6A1"],
    }
    assert (await api.post("/api/v1/resync", body, role="viewer")).status_code == 403
    problem(await api.post("/api/v1/resync", body), 404, "CONNECTION_NOT_FOUND")
    connection_id = (await api.post("/api/v1/connections", connection_body())).json()["id"]
    problem(
        await api.post("/api/v1/resync", {**body, "connection_id": connection_id}), 409, "CONNECTION_INACTIVE"
    )
    await api.post(f"/api/v1/connections/{connection_id}/activate")
    for bad in (
        {"source_ids": []},
        {"source_ids": ["not an id"]},
        {"source_system": "erp"},
        {"source_object": "a b"},
        {"where": {"study__v": "V0S1"}},  # ids and a filter at once
        {"source_ids": None},  # neither
        {"source_ids": None, "where": {}},
        {"source_ids": None, "where": {"study__v = 'x' OR id": "y"}},  # a field name, nothing else
        {"source_ids": None, "where": {"study__v": ["V0S1"]}},
    ):
        problem(
            await api.post("/api/v1/resync", {**body, "connection_id": connection_id, **bad}),
            422,
            "VALIDATION_FAILED",
        )
    done = await api.post(
        "/api/v1/resync",
        {**body, "connection_id": connection_id, "source_ids": ["V6A1", "V6A1", "V6A2"]},
        role="operator",
    )
    assert done.status_code == 202, done.text
    assert done.json() == {"events": 2}
    async with clean_db.connect() as conn:
        ids = sorted(
            r.record_id
            for r in await conn.execute(
                text("SELECT record_id FROM inbox_events WHERE webhook_id LIKE 'resync:%'")
            )
        )
    assert ids == ["V6A1", "V6A2"]


def rows_of_csv(output: str) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(output)))


async def test_two_requests_at_once_start_one_run(api: Api) -> None:
    import asyncio

    answers = await asyncio.gather(*(api.post(BASE, role="operator") for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [202, 409, 409, 409]
