"""`bridge links`, `bridge audit-log` and `bridge transfer list` against a live API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.models import RecordLink, TransferRun
from tests.api.operator.conftest import add_delivery
from tests.api.operator.test_cli import as_json, bridge, server  # noqa: F401 - the live-API fixture


async def test_links_finds_a_record_from_either_side(server: str, clean_db: AsyncEngine) -> None:  # noqa: F811 - fixture
    async with AsyncSession(clean_db) as session:
        session.add_all([
            RecordLink(connection_id="conn_a", source_system="ctms", source_object="crm_activity__v",
                       source_id="V6A000000007777", target_object="Vault_Clinical_Interaction_vod__c",
                       target_id="a1X000000000777"),
            RecordLink(connection_id="conn_a", source_system="crm", source_object="Medical_Inquiry_vod__c",
                       source_id="a0C000000000042", target_object="crm_activity__v",
                       target_id="V6A000000004242"),
        ])  # fmt: skip
        await session.commit()
    listed = bridge(server, "links", "V6A000000007777")
    assert listed.exit_code == 0, listed.output
    assert "a1X000000000777" in listed.stdout
    [from_crm] = as_json(bridge(server, "links", "a0C000000000042", "--json"))["items"]  # no --system: either
    assert from_crm["target_id"] == "V6A000000004242"
    narrowed = bridge(server, "links", "a0C000000000042", "--system", "ctms", "--json")
    assert as_json(narrowed)["items"] == []  # not a CTMS record
    assert as_json(bridge(server, "links", "V6A-none", "--json"))["items"] == []


async def test_audit_log_filters_and_pages(server: str, clean_db: AsyncEngine) -> None:  # noqa: F811 - fixture
    dead = [await add_delivery(clean_db, status="dead") for _ in range(3)]
    for delivery_id in dead:
        assert bridge(server, "deliveries", "replay", str(delivery_id)).exit_code == 0
    log = bridge(server, "audit-log", "--action", "delivery.replay")
    assert log.exit_code == 0, log.output
    for delivery_id in dead:
        assert f"delivery {delivery_id}" in log.stdout
    first = as_json(bridge(server, "audit-log", "--action", "delivery.replay", "--limit", "2", "--json"))
    assert [e["resource_id"] for e in first["items"]] == [str(dead[2]), str(dead[1])]  # newest first
    hint = bridge(server, "audit-log", "--action", "delivery.replay", "--limit", "2")
    assert f"more: --cursor {first['next_cursor']}" in hint.stderr  # piped: stdout keeps only rows
    rest = as_json(
        bridge(server, "audit-log", "--action", "delivery.replay", "--cursor", first["next_cursor"], "--json")
    )
    assert [e["resource_id"] for e in rest["items"]] == [str(dead[0])]
    assert rest["next_cursor"] is None
    assert as_json(bridge(server, "audit-log", "--action", "connection.delete", "--json"))["items"] == []


async def test_transfer_list_shows_runs_newest_first_and_filters(server: str, clean_db: AsyncEngine) -> None:  # noqa: F811 - fixture
    assert as_json(bridge(server, "transfer", "list", "--json"))["items"] == []
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    async with AsyncSession(clean_db) as session:
        session.add_all([
            TransferRun(trigger="schedule", status="succeeded", started_at=start,
                        finished_at=start + timedelta(seconds=40), counts={"ctms": {"seen": 3}}),
            TransferRun(trigger="manual", status="failed", started_at=start + timedelta(minutes=5),
                        finished_at=start + timedelta(minutes=6),
                        errors=[{"source": "ctms", "code": "VAULT_UNAVAILABLE", "message": "503"}]),
        ])  # fmt: skip
        await session.commit()
    listed = bridge(server, "transfer", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.index("manual") < listed.stdout.index("schedule")  # newest first
    runs = as_json(bridge(server, "transfer", "list", "--json"))["items"]
    assert [(r["trigger"], r["status"], len(r["errors"])) for r in runs] == [
        ("manual", "failed", 1),
        ("schedule", "succeeded", 0),
    ]
    [failed] = as_json(bridge(server, "transfer", "list", "--status", "failed", "--json"))["items"]
    assert failed["trigger"] == "manual"
    [scheduled] = as_json(bridge(server, "transfer", "list", "--trigger", "schedule", "--json"))["items"]
    assert scheduled["counts"] == {"ctms": {"seen": 3}}
