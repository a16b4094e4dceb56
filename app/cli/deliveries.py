"""`bridge deliveries …`: find failed deliveries, replay or discard them."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.cli.http import (
    DEFAULT_API_URL,
    ApiClient,
    ApiKeyOption,
    ApiUrlOption,
    CursorOption,
    JsonOption,
    LimitOption,
    err,
    fail,
    out,
    page,
    show,
)

app = typer.Typer(help="Find deliveries; replay or discard them (operator).", no_args_is_help=True)
BASE = "/api/v1/deliveries"

COLUMNS = [
    ("id", "id"),
    ("status", "status"),
    ("operation", "operation"),
    ("connection", "connection_id"),
    ("source", lambda d: f"{d['source_object']} {d['source_id']}"),
    ("attempts", "attempts"),
    ("error", "last_error_code"),
    ("updated", "updated_at"),
]

Status = Annotated[list[str] | None, typer.Option("--status", help="repeat for several (e.g. dead)")]
Connection = Annotated[str | None, typer.Option("--connection", help="connection id")]
Operation = Annotated[str | None, typer.Option(help="e.g. upsert_interaction")]
Direction = Annotated[str | None, typer.Option(help="ctms_to_crm or crm_to_ctms")]
SourceObject = Annotated[str | None, typer.Option("--object", help="source object, e.g. crm_activity__v")]
After = Annotated[
    str | None, typer.Option("--created-after", help="ISO time with offset, e.g. 2026-11-20T00:00:00Z")
]
Before = Annotated[str | None, typer.Option("--created-before", help="ISO time with offset")]
SourceId = Annotated[str | None, typer.Option("--source-id", help="the source record's id")]
EventId = Annotated[int | None, typer.Option("--event-id", help="the event that planned it", min=1)]


def _filters(
    status: list[str] | None,
    connection: str | None,
    operation: str | None,
    direction: str | None,
    source_object: str | None,
    created_after: str | None,
    created_before: str | None,
) -> dict[str, Any]:
    values = {
        "status": status or None,
        "connection_id": connection,
        "operation": operation,
        "direction": direction,
        "object": source_object,
        "created_after": created_after,
        "created_before": created_before,
    }
    return {k: v for k, v in values.items() if v is not None}


@app.command("list")
def list_(
    status: Status = None,
    connection: Connection = None,
    operation: Operation = None,
    direction: Direction = None,
    source_object: SourceObject = None,
    created_after: After = None,
    created_before: Before = None,
    source_id: SourceId = None,
    event_id: EventId = None,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """List deliveries, newest first (dead letters: --status dead; one record's: --source-id, or
    `bridge trace <id>` for its whole story)."""
    filters = _filters(status, connection, operation, direction, source_object, created_after, created_before)
    with ApiClient(api_url, api_key) as api:
        answer = api.get(BASE, limit=limit, cursor=cursor, source_id=source_id, event_id=event_id, **filters)
        if not answer["items"]:
            api.require_connection(connection)
    page(answer, COLUMNS, as_json=as_json, title="Deliveries")


@app.command("show")
def show_one(
    delivery_id: int,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one delivery with its payload and attempts."""
    with ApiClient(api_url, api_key) as api:
        show(api.get(f"{BASE}/{delivery_id}"))


SUCCEEDED = ("delivered", "unchanged")
SENDING = ("pending", "in_flight")


@app.command()
def replay(
    delivery_id: int,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="wait until the replay has been sent; exit 0 only if it was delivered (or unchanged)",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="with --wait: give up after this many seconds", min=1)] = 120,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replay a dead, discarded, unmatched or stale delivery now."""
    with ApiClient(api_url, api_key) as api:
        delivery = api.call("POST", f"{BASE}/{delivery_id}/replay")
        if wait:
            delivery = _wait_sent(api, delivery_id, timeout)
    if as_json:
        show(delivery)
    else:
        error = (
            f" ({delivery['last_error_code']}: {delivery['last_error']})"
            if delivery["last_error_code"]
            else ""
        )
        out.print(
            f"delivery {delivery['id']} is {delivery['status']}{error if wait else ''}", highlight=False
        )
    if wait and delivery["status"] not in SUCCEEDED:
        raise typer.Exit(1)


def _wait_sent(api: ApiClient, delivery_id: int, timeout: float) -> dict[str, Any]:
    """Poll until the delivery leaves pending/in_flight (a worker has sent it, or decided it cannot)."""
    deadline = time.monotonic() + timeout
    pause = 0.2
    while True:
        delivery: dict[str, Any] = api.get(f"{BASE}/{delivery_id}")
        if delivery["status"] not in SENDING:
            return delivery
        if time.monotonic() + pause > deadline:
            fail(
                f"delivery {delivery_id} is still {delivery['status']} after {timeout:g} s "
                f"(next attempt {delivery['next_attempt_at']}); is a worker running?",
                3,
            )
        time.sleep(pause)
        pause = min(2.0, pause * 1.5)


@app.command()
def discard(
    delivery_id: int,
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")],
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give up on a delivery."""
    with ApiClient(api_url, api_key) as api:
        delivery = api.call("POST", f"{BASE}/{delivery_id}/discard", json_body={"reason": reason})
    if as_json:
        show(delivery)
        return
    out.print(f"delivery {delivery['id']} is {delivery['status']}", highlight=False)


@app.command("replay-bulk")
def replay_bulk(
    status: Status = None,
    connection: Connection = None,
    operation: Operation = None,
    direction: Direction = None,
    source_object: SourceObject = None,
    created_after: After = None,
    created_before: Before = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only count what would be replayed")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before replaying")] = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replay every delivery the filters match (default: dead letters), exactly the set first counted.
    With --json: {"matched", "replayed"} (replayed is 0 for a dry run)."""
    filters = _filters(status, connection, operation, direction, source_object, created_after, created_before)
    with ApiClient(api_url, api_key) as api:
        counted = api.call("POST", f"{BASE}/replay", json_body={**filters, "dry_run": True})
        if counted["matched"] == 0:
            api.require_connection(connection)
        if not as_json:
            out.print(f"{counted['matched']} deliveries match", highlight=False)
        replayed = 0
        if not dry_run and counted["matched"]:
            if not yes:
                typer.confirm(f"replay {counted['matched']} deliveries?", abort=True, err=True)
            pin = {"up_to_id": counted["up_to_id"], "as_of": counted["as_of"], "dry_run": False}
            replayed = _replay_in_chunks(api, {**filters, **pin}, counted["matched"])
    if as_json:
        show({"matched": counted["matched"], "replayed": replayed, "dry_run": dry_run})
    elif not dry_run and counted["matched"]:
        out.print(f"{replayed} deliveries replayed", highlight=False)


def _replay_in_chunks(api: ApiClient, body: dict[str, Any], total: int) -> int:
    done = 0
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:  # stderr: stdout stays the result
        task = progress.add_task("replay", total=total)
        while True:
            chunk = api.call("POST", f"{BASE}/replay", json_body=body)
            done += int(chunk["replayed"])
            progress.update(task, completed=done, total=max(total, done + chunk["remaining"]))
            if chunk["remaining"] == 0 or chunk["replayed"] == 0:
                break
    if done < total:
        fail(f"{total - done} of the counted deliveries changed meanwhile and were not replayed")
    return done
