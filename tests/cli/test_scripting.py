"""Issue 18 point 3: the operator commands as a script uses them (a subprocess, stdout a pipe, 80
columns): rows a script can grep and cut, JSON from every command, secrets kept off stdout, unknown ids
and a wrong --api-url refused in one clear line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.main import create_app
from app.models import TransferRun
from app.simulators.common.server import ServerThread
from app.simulators.vault.app import create_vault_app
from tests.api.operator.conftest import ADMIN_KEY, add_delivery
from tests.cli.run import bridge
from tests.conftest import make_settings
from tests.processes import free_port

LONG_CODE = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


@pytest.fixture
def api(clean_db: AsyncEngine, pg_url: str) -> Iterator[str]:
    with ServerThread(create_app(make_settings(pg_url, admin_api_key=ADMIN_KEY))) as server:
        yield server.url


def run(api_url: str, tmp_path: Path, *args: str) -> Any:
    return bridge(*args, cwd=tmp_path, BRIDGE_API_URL=api_url, BRIDGE_API_KEY=ADMIN_KEY)


def parsed(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def only_error_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert result.stdout == ""
    return lines[0]


def salesforce_connection(*extra: str) -> list[str]:
    return [
        "connections", "create", "--name", "EU Medical CRM", "--platform", "salesforce",
        "--login-url", f"http://127.0.0.1:{free_port()}", "--client-id", "cid", "--client-secret", "cs-1",
        *extra,
    ]  # fmt: skip


async def test_piped_lists_are_tab_separated_rows_that_grep_and_cut_can_use(
    api: str, clean_db: AsyncEngine, tmp_path: Path
) -> None:
    connection_id = "conn_with_a_rather_long_identifier_0123456789"
    ids = [
        await add_delivery(clean_db, connection_id=connection_id, last_error_code=LONG_CODE) for _ in range(3)
    ]
    listed = run(api, tmp_path, "deliveries", "list", "--status", "dead")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split("\t") == [
        "id", "status", "operation", "connection", "source", "attempts", "error", "updated",
    ]  # fmt: skip
    assert len(rows) == 3
    cells = [row.split("\t") for row in rows]
    assert all(len(row) == 8 for row in cells)  # nothing wrapped onto a line of its own
    assert sorted(int(row[0]) for row in cells) == sorted(ids)
    grepped = [row for row in rows if connection_id in row and LONG_CODE in row]
    assert len(grepped) == 3  # `| grep conn_… ` finds every row, ids and codes whole
    assert "│" not in listed.stdout
    assert "━" not in listed.stdout


async def test_every_command_that_prints_data_takes_json(
    api: str, clean_db: AsyncEngine, tmp_path: Path
) -> None:
    async with AsyncSession(clean_db, expire_on_commit=False) as session:
        transfer = TransferRun(trigger="manual", status="succeeded", counts={"ctms": {"seen": 2}})
        session.add(transfer)
        await session.commit()
    shown = parsed(run(api, tmp_path, "transfer", "show", str(transfer.id), "--json"))
    assert shown["counts"] == {"ctms": {"seen": 2}}

    created = parsed(run(api, tmp_path, *salesforce_connection("--json")))
    connection_id = created["id"]
    tested = run(api, tmp_path, "connections", "test", connection_id, "--json")
    assert tested.returncode == 1  # the CRM cannot be reached: the checks fail, the report is JSON
    report = json.loads(tested.stdout)
    assert report["ok"] is False
    assert all({"name", "ok", "detail"} <= set(check) for check in report["checks"])
    assert parsed(run(api, tmp_path, "connections", "show", connection_id, "--json"))["id"] == connection_id
    assert parsed(run(api, tmp_path, "settings", "show", "--json"))["retry_horizon_seconds"] == 259200

    delivery_id = await add_delivery(clean_db, connection_id=connection_id)
    assert parsed(run(api, tmp_path, "deliveries", "show", str(delivery_id), "--json"))["status"] == "dead"
    assert (
        parsed(run(api, tmp_path, "deliveries", "replay", str(delivery_id), "--json"))["status"] == "pending"
    )
    counted = parsed(run(api, tmp_path, "deliveries", "replay-bulk", "--dry-run", "--json"))
    assert counted == {"matched": 0, "replayed": 0, "dry_run": True}


def test_a_new_connections_webhook_secret_stays_off_stdout(api: str, tmp_path: Path) -> None:
    created = run(api, tmp_path, *salesforce_connection())
    assert created.returncode == 0, created.stderr
    document = json.loads(created.stdout)  # stdout is exactly the connection, parseable
    assert "webhook_secret" not in document
    assert "whsec_" not in created.stdout
    [line] = created.stderr.strip().splitlines()
    assert line.startswith("webhook secret (shown once): whsec_")
    # with --json the secret is inside the JSON, and nowhere else
    again = run(api, tmp_path, *salesforce_connection("--json"))
    assert again.returncode == 1  # the name is taken
    renamed = [a if a != "EU Medical CRM" else "US Medical CRM" for a in salesforce_connection("--json")]
    made = run(api, tmp_path, *renamed)
    assert parsed(made)["webhook_secret"].startswith("whsec_")
    assert made.stderr == ""


def test_an_unknown_connection_id_is_refused_not_answered_with_an_empty_list(
    api: str, tmp_path: Path
) -> None:
    for args in (
        ("deliveries", "list", "--connection", "conn_nope"),
        ("events", "list", "--connection", "conn_nope"),
        ("links", "V6A000000000001", "--connection", "conn_nope"),
        ("deliveries", "replay-bulk", "--connection", "conn_nope", "--dry-run"),
    ):
        result = run(api, tmp_path, *args)
        assert result.returncode == 1, args
        line = only_error_line(result)
        assert "conn_nope" in line, line
        assert "--connection" in line, line
    shown = run(api, tmp_path, "connections", "show", "conn_nope")
    assert shown.returncode == 1
    assert "404 CONNECTION_NOT_FOUND" in only_error_line(shown)


def test_a_wrong_api_url_says_so(api: str, tmp_path: Path) -> None:
    nothing = f"http://127.0.0.1:{free_port()}"
    with ServerThread(create_vault_app()) as elsewhere:
        for url, expected in (
            (nothing, "cannot reach the bridge"),
            (elsewhere.url, "not as the bridge's operator API would"),
            (api + "/console", "not as the bridge's operator API would"),
        ):
            result = run(url, tmp_path, "deliveries", "list")
            assert result.returncode == 2, url
            line = only_error_line(result)
            assert expected in line, line
            assert "--api-url" in line, line


def test_refused_values_are_named_by_the_flags_that_set_them(api: str, tmp_path: Path) -> None:
    missing = run(api, tmp_path, *salesforce_connection()[:-2])  # no --client-secret
    assert missing.returncode == 1
    assert "  --client-secret: Field required" in missing.stderr.splitlines()
    no_crm = run(api, tmp_path, "connections", "create", "--name", "x", "--platform", "salesforce")
    assert "--login-url" in no_crm.stderr
    assert "crm:" not in no_crm.stderr
    horizon = run(api, tmp_path, "settings", "set", "--retry-horizon-seconds", "5")
    assert horizon.returncode == 1
    assert any(line.startswith("  --retry-horizon-seconds: ") for line in horizon.stderr.splitlines())


async def test_a_resync_takes_ids_or_a_filter_and_says_which_is_missing(api: str, tmp_path: Path) -> None:
    base = ["reconcile", "resync", "--connection", "conn_nope", "--object", "crm_activity__v"]
    neither = run(api, tmp_path, *base)
    assert neither.returncode != 0
    assert "record ids or --where" in neither.stderr
    both = run(api, tmp_path, *base, "V6A1", "--where", "study__v=V0S1")
    assert both.returncode != 0
    assert "record ids or --where" in both.stderr
    malformed = run(api, tmp_path, *base, "--where", "study__v")
    assert malformed.returncode != 0
    assert "field=value" in malformed.stderr
    # a well-formed filter reaches the API, which names the unknown connection
    sent = run(api, tmp_path, *base, "--where", "study__v=V0S1", "--where", "complete__v=true")
    assert "CONNECTION_NOT_FOUND" in only_error_line(sent)
