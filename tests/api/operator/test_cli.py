"""The `bridge` operator commands against a live API (a real HTTP server on a local port)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from app.cli import cli
from app.cli import http as cli_http
from app.logging import configure_logging
from app.main import create_app
from app.simulators.common.server import ServerThread
from tests.api.operator.conftest import ADMIN_KEY, add_delivery
from tests.conftest import make_settings
from tests.jwt_keys import key_pair

runner = CliRunner()


@pytest.fixture
def server(clean_db: AsyncEngine, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(cli_http.out, "width", 200)  # tables unfolded, so rows can be read back
    settings = make_settings(pg_url, admin_api_key=ADMIN_KEY)
    with ServerThread(create_app(settings)) as thread:
        # the server shares this process: its log lines go elsewhere, not into the command's output
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=io.StringIO()))
        yield thread.url
    configure_logging(settings.log_level, settings.log_json)


def bridge(url: str, *args: str, key: str | None = ADMIN_KEY, stdin: str | None = None) -> Result:
    env = {"BRIDGE_API_URL": url, **({"BRIDGE_API_KEY": key} if key else {})}
    return runner.invoke(cli, list(args), env=env, input=stdin)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def statuses(engine: AsyncEngine) -> dict[int, str]:
    async with engine.connect() as conn:
        return {r.id: r.status for r in await conn.execute(text("SELECT id, status FROM deliveries"))}


async def test_connections_create_then_list(server: str) -> None:
    created = bridge(
        server, "connections", "create", "--name", "CLI CRM", "--platform", "salesforce",
        "--login-url", "https://mycompany.my.salesforce.com", "--client-id", "cid", "--client-secret", "cli-secret-1",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "webhook secret (shown once): whsec_" in created.stderr  # stdout stays the JSON
    assert "whsec_" not in created.stdout
    assert "cli-secret-1" not in created.output
    listed = bridge(server, "connections", "list")
    assert listed.exit_code == 0, listed.output
    assert "CLI CRM" in listed.stdout
    assert "salesforce" in listed.stdout
    [item] = as_json(bridge(server, "connections", "list", "--json"))["items"]
    assert (item["name"], item["active"], item["credentials_set"]) == ("CLI CRM", False, ["client_secret"])
    assert as_json(bridge(server, "connections", "activate", item["id"]))["active"] is True
    duplicate = bridge(server, "connections", "create", "--name", "CLI CRM", "--platform", "salesforce",
                       "--login-url", "https://x.example", "--client-id", "c", "--client-secret", "s")  # fmt: skip
    assert duplicate.exit_code == 1
    assert "409 CONNECTION_NAME_TAKEN" in duplicate.stderr


async def test_connections_create_with_the_jwt_bearer_flow_reads_the_key_from_a_file(
    server: str, tmp_path: Path
) -> None:
    pem = tmp_path / "bridge.key"
    pem.write_text(key_pair().private_key)
    created = bridge(
        server, "connections", "create", "--name", "JWT CRM", "--platform", "salesforce", "--json",
        "--login-url", "https://login.salesforce.com", "--auth", "jwt_bearer", "--client-id", "3MVG9-jwt",
        "--username", "integration@example.com", "--private-key-file", str(pem),
    )  # fmt: skip
    body = as_json(created)
    assert body["credentials_set"] == ["private_key"]
    assert body["crm"]["auth"] == "jwt_bearer"
    assert key_pair().private_key.splitlines()[1] not in created.output
    refused = bridge(
        server, "connections", "create", "--name", "Shared login", "--platform", "salesforce",
        "--login-url", "https://login.salesforce.com", "--client-id", "c", "--client-secret", "s",
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "422 MY_DOMAIN_REQUIRED" in refused.stderr
    assert "My Domain" in refused.stderr


async def test_deliveries_list_replay_and_bulk_replay(server: str, clean_db: AsyncEngine) -> None:
    one = await add_delivery(clean_db, status="dead")
    bulk = [await add_delivery(clean_db, status="dead", connection_id="conn_bulk") for _ in range(3)]
    keep = await add_delivery(clean_db, status="dead", connection_id="conn_other")
    listed = bridge(server, "deliveries", "list", "--status", "dead")
    assert listed.exit_code == 0, listed.output
    assert "UNKNOWN_CHANNEL" in listed.stdout
    assert str(one) in listed.stdout
    replayed = bridge(server, "deliveries", "replay", str(one))
    assert replayed.exit_code == 0, replayed.output
    assert f"delivery {one} is pending" in replayed.stdout

    counted = bridge(server, "deliveries", "replay-bulk", "--connection", "conn_bulk", "--dry-run")
    assert counted.exit_code == 0, counted.output
    assert "3 deliveries match" in counted.stdout
    assert {i: s for i, s in (await statuses(clean_db)).items() if i in bulk} == dict.fromkeys(bulk, "dead")
    declined = bridge(server, "deliveries", "replay-bulk", "--connection", "conn_bulk", stdin="n\n")
    assert declined.exit_code == 1  # aborted at the question: nothing replayed
    assert (await statuses(clean_db))[bulk[0]] == "dead"
    done = bridge(server, "deliveries", "replay-bulk", "--connection", "conn_bulk", "--yes")
    assert done.exit_code == 0, done.output
    assert "3 deliveries replayed" in done.stdout
    after = await statuses(clean_db)
    assert [after[i] for i in bulk] == ["pending"] * 3
    assert after[keep] == "dead"


async def test_keys_and_roles_from_the_command_line(server: str) -> None:
    created = bridge(server, "api-keys", "create", "--name", "night shift", "--role", "viewer")
    assert created.exit_code == 0, created.output
    viewer_key = created.stderr.split("API key (shown once):")[1].strip()  # the secret: on stderr
    assert viewer_key.startswith("brk_")
    assert as_json(bridge(server, "settings", "show", key=viewer_key))["retry_horizon_seconds"] == 259200
    refused = bridge(server, "settings", "set", "--retry-horizon-seconds", "7200", key=viewer_key)
    assert refused.exit_code == 1
    assert "403 ROLE_INSUFFICIENT" in refused.stderr
    assert (
        as_json(bridge(server, "settings", "set", "--retry-horizon-seconds", "3600"))["retry_horizon_seconds"]
        == 3600
    )
    no_key = bridge(server, "settings", "show", key=None)
    assert no_key.exit_code == 2
    assert "no API key" in no_key.stderr
    [listed] = [
        k
        for k in as_json(bridge(server, "api-keys", "list", "--json"))["items"]
        if k["name"] == "night shift"
    ]
    assert bridge(server, "api-keys", "revoke", listed["id"]).exit_code == 0
    revoked = bridge(server, "settings", "show", key=viewer_key)
    assert revoked.exit_code == 1
    assert "401 API_KEY_REVOKED" in revoked.stderr


def test_an_unreachable_api_is_a_clear_error() -> None:
    result = bridge("http://127.0.0.1:9", "events", "list")
    assert result.exit_code == 2
    assert "cannot reach the bridge at http://127.0.0.1:9" in result.stderr


def test_load_start_follows_the_load_to_its_end_and_exits_1_when_it_failed(server: str) -> None:
    # this server has no CTMS configured and no connection: the load fails, naming why
    result = bridge(server, "load", "start", "--since", "2026-01-01T00:00:00", "--timeout", "60")
    assert result.exit_code == 1, result.output
    assert "Initial load 1: failed" in result.stdout
    assert "CTMS_NOT_CONFIGURED" in result.stdout
    shown = as_json(bridge(server, "load", "show", "1", "--json"))
    assert (shown["status"], shown["since"]) == ("failed", "2026-01-01T00:00:00Z")
    listed = bridge(server, "load", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[1].split("\t")[:2] == ["1", "failed"]
    again = bridge(server, "load", "resume", "1", "--no-wait")
    assert again.exit_code == 0, again.output  # queued again; it fails again, for the same reason
    refused = bridge(server, "load", "show", "99")
    assert refused.exit_code == 1
    assert "INITIAL_LOAD_NOT_FOUND" in refused.stderr or "no initial load" in refused.stderr


async def test_reconcile_show_as_table_json_and_csv_and_a_dry_run_repair(
    server: str, clean_db: AsyncEngine
) -> None:
    from tests.api.operator.test_reconciliations import rows_of_csv, seeded_run

    created = as_json(
        bridge(
            server,
            "connections",
            "create",
            "--name",
            "CRM R",
            "--platform",
            "salesforce",
            "--login-url",
            "https://acme.my.salesforce.com",
            "--client-id",
            "cid",
            "--client-secret",
            "s3cr3t",
            "--json",
        )
    )
    assert as_json(bridge(server, "connections", "activate", created["id"]))["active"] is True
    run_id = await seeded_run(clean_db, created["id"])
    shown = as_json(bridge(server, "reconcile", "show", str(run_id), "--json"))
    assert [d["kind"] for d in shown["drifts"]] == [
        "changed_in_target",
        "in_target_without_source",
        "deleted_in_source",
    ]
    csv_out = bridge(server, "reconcile", "show", str(run_id), "--csv", "--kind", "changed_in_target")
    assert csv_out.exit_code == 0, csv_out.output
    [row] = rows_of_csv(csv_out.stdout)
    assert (row["source_id"], row["field"], row["bridge_wrote"], row["target_has"]) == (
        "V6A1",
        "Subject_vod__c",
        "a",
        "b",
    )
    table_out = bridge(server, "reconcile", "show", str(run_id))
    assert table_out.exit_code == 0, table_out.output
    assert "3 drift(s)" in table_out.stdout
    assert "V6A2" in table_out.stdout
    dry = bridge(server, "reconcile", "repair", str(run_id))
    assert dry.exit_code == 0, dry.output
    assert "would send 2 event(s)" in dry.stdout
    assert "skipped V6A2" in dry.stdout
