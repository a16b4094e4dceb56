"""Issue 18 point 4, through the CLI as a script runs it (a subprocess, stdout a pipe): "why is CTMS
activity X not in the CRM?" answered by `bridge trace`, `deliveries list --source-id`, `links` without
--system, and `deliveries replay --wait`, against a bridge whose jobs run in its process and real
simulators."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.delivery.engine import NOT_SENT
from tests.api.operator.conftest import ADMIN_KEY
from tests.cli.run import bridge
from tests.e2e.harness import (
    World,
    account,
    activity,
    bridge_server,
    interactions,
    person,
    simulated_world,
    study,
)
from tests.processes import eventually


@pytest.fixture
def world() -> Iterator[World]:
    with simulated_world() as world:
        yield world


@pytest.fixture
def api(world: World, clean_db: AsyncEngine, pg_url: str) -> Iterator[str]:
    with bridge_server(world, pg_url, None, admin_api_key=ADMIN_KEY) as url:
        yield url


def run(api_url: str, tmp_path: Path, *args: str) -> Any:
    return bridge(*args, cwd=tmp_path, BRIDGE_API_URL=api_url, BRIDGE_API_KEY=ADMIN_KEY)


def rows(result: Any, kind: str) -> list[list[str]]:
    assert result.returncode == 0, result.stderr
    return [line.split("\t")[1:] for line in result.stdout.splitlines() if line.split("\t")[0] == kind]


async def delivery_status(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT status FROM deliveries ORDER BY id DESC LIMIT 1"))).scalar()


async def test_a_dead_letter_traced_replayed_and_traced_again(
    api: str, world: World, clean_db: AsyncEngine, tmp_path: Path
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    world.wire(org)
    account(org, "HCP-21")
    twin = account(org, "HCP-21")  # a duplicate account: the activity cannot say which one it is for
    record = activity(world.vault, person(world.vault, "HCP-21"), study(world.vault))  # the webhook goes out
    await eventually(lambda: delivery_status(clean_db), lambda s: s == "dead")

    traced = run(api, tmp_path, "trace", record["id"])
    [[delivery_id, event_id, connection, operation, status, attempts, code, _target]] = rows(
        traced, "delivery"
    )
    assert (connection, operation, status, attempts, code) == (
        org.connection_id, "upsert_interaction", "dead", "1", "AMBIGUOUS_ACCOUNT",
    )  # fmt: skip
    [[_id, _type, event_status, *_]] = rows(traced, "event")
    assert (_id, event_status) == (event_id, "processed")
    [[of, number, _at, target, outcome, _http, why]] = rows(traced, "attempt")  # failed before any call
    assert (of, number, target, outcome, why) == (
        delivery_id,
        "1",
        NOT_SENT,
        "permanent",
        "AMBIGUOUS_ACCOUNT",
    )
    assert any("dead letter (AMBIGUOUS_ACCOUNT)" in f[0] for f in rows(traced, "finding"))
    [[_last, upcoming]] = rows(traced, "transfer")
    assert upcoming.startswith("next 20")

    listed = run(api, tmp_path, "deliveries", "list", "--source-id", record["id"])
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()[1:]] == [delivery_id]

    org.state.delete_record("Account", twin)  # the CRM admin merges the duplicate away
    replayed = run(api, tmp_path, "deliveries", "replay", delivery_id, "--wait", "--timeout", "30")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == f"delivery {delivery_id} is delivered"

    again = json.loads(run(api, tmp_path, "trace", record["id"], "--json").stdout)
    [interaction] = interactions(org)
    assert again["ids"] == [record["id"], interaction["Id"]]
    [delivery] = again["events"][0]["deliveries"]
    assert [(a["outcome"], a["error_code"]) for a in delivery["attempt_history"]] == [
        ("permanent", "AMBIGUOUS_ACCOUNT"),  # kept: a replay never clears the history
        ("success", None),
    ]
    linked = run(api, tmp_path, "links", record["id"])  # no --system: either side
    [row] = linked.stdout.splitlines()[1:]
    assert interaction["Id"] in row


async def test_replay_wait_fails_when_the_replay_fails_again(
    api: str, world: World, clean_db: AsyncEngine, tmp_path: Path
) -> None:
    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    world.wire(org)
    account(org, "HCP-22")
    account(org, "HCP-22")
    activity(world.vault, person(world.vault, "HCP-22"), study(world.vault))
    await eventually(lambda: delivery_status(clean_db), lambda s: s == "dead")
    async with clean_db.connect() as conn:
        delivery_id = (await conn.execute(text("SELECT id FROM deliveries"))).scalar_one()

    replayed = run(api, tmp_path, "deliveries", "replay", str(delivery_id), "--wait", "--timeout", "30")
    assert replayed.returncode == 1  # a script can tell: still not delivered
    assert replayed.stdout.startswith(f"delivery {delivery_id} is dead (AMBIGUOUS_ACCOUNT: ")


def test_a_record_the_bridge_never_saw_points_at_the_next_transfer_run(api: str, tmp_path: Path) -> None:
    traced = run(api, tmp_path, "trace", "V6A000000000404")
    [[record_id, ids]] = rows(traced, "record")
    assert (record_id, ids) == ("V6A000000000404", "V6A000000000404")
    [[finding]] = rows(traced, "finding")
    assert finding.startswith("Nothing about V6A000000000404 has reached the bridge")
    assert "next Transfer run (scheduled 20" in finding
    assert rows(traced, "delivery") == []


async def test_a_crm_picklist_failure_reproduced_by_hand_found_and_fixed_from_the_cli(
    api: str, world: World, clean_db: AsyncEngine, tmp_path: Path
) -> None:
    """Issue 18 point 6: the demo's failure by hand. The simulator's switch turns off the CRM's Video
    channel; the activity dead-letters with the CRM's error; `connections test` names the value; the
    CRM admin turns it back on, and a replay delivers it."""
    import httpx

    org = world.orgs[0]
    await world.connect(clean_db, org, sync_studies_and_sites=False)
    world.wire(org)
    account(org, "HCP-23")
    switch = f"{org.url}/_sim/picklists/Vault_Clinical_Interaction_vod__c/Call_Channel_vod__c/Video_vod"
    async with httpx.AsyncClient() as http:
        assert (await http.delete(switch)).status_code == 200
    record = activity(world.vault, person(world.vault, "HCP-23"), study(world.vault))  # a video call
    await eventually(lambda: delivery_status(clean_db), lambda s: s == "dead")

    traced = run(api, tmp_path, "trace", record["id"])
    [[delivery_id, *_rest, code, _target]] = rows(traced, "delivery")
    assert code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    tested = run(api, tmp_path, "connections", "test", org.connection_id, "--json")
    assert tested.returncode == 1  # a check failed
    checks = {c["name"]: c for c in json.loads(tested.stdout)["checks"]}
    channel = checks["crm.Vault_Clinical_Interaction_vod__c.Call_Channel_vod__c"]
    assert channel["ok"] is False
    assert "Video_vod (for video)" in channel["detail"]

    async with httpx.AsyncClient() as http:  # the CRM admin activates the value again
        assert (await http.put(switch)).status_code == 200
    assert run(api, tmp_path, "connections", "test", org.connection_id, "--json").returncode == 0
    replayed = run(api, tmp_path, "deliveries", "replay", delivery_id, "--wait", "--timeout", "30")
    assert replayed.returncode == 0, replayed.stderr
    [interaction] = interactions(org)
    assert interaction["Call_Channel_vod__c"] == "Video_vod"
