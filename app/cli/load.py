"""`bridge load …`: load what already exists in both systems, and follow a load's progress."""

from __future__ import annotations

import time
from datetime import UTC, datetime
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
    plain,
    show,
)

app = typer.Typer(
    help="Load everything that already exists (an initial load), or follow one.", no_args_is_help=True
)
BASE = "/api/v1/initial-loads"
OPEN = ("queued", "running")


@app.command("start")
def start(
    since: Annotated[
        datetime | None, typer.Option(help="only records changed since (UTC), e.g. 2026-01-01T00:00:00")
    ] = None,
    connection: Annotated[str | None, typer.Option(help="read only this connection's CRM calls")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="show progress until the load ends")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait at most")] = 3600.0,
    as_json: JsonOption = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Start an initial load: CTMS studies, sites and activities, and CRM calls sent to Vault Clinical."""
    body: dict[str, Any] = {"connection_id": connection}
    if since is not None:
        body["since"] = (since if since.tzinfo else since.replace(tzinfo=UTC)).isoformat()
    with ApiClient(api_url, api_key) as api:
        load = api.call("POST", BASE, json_body=body)
        if wait:
            load = _follow(api, load["id"], timeout)
    _report(load, as_json)


@app.command("resume")
def resume(
    load_id: int,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="show progress until the load ends")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait at most")] = 3600.0,
    as_json: JsonOption = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Resume a failed load from where it stopped (pages already saved are not read again)."""
    with ApiClient(api_url, api_key) as api:
        load = api.call("POST", f"{BASE}/{load_id}/resume")
        if wait:
            load = _follow(api, load_id, timeout)
    _report(load, as_json)


@app.command("show")
def show_load(
    load_id: int,
    wait: Annotated[bool, typer.Option("--wait", help="show progress until the load ends")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait at most")] = 3600.0,
    as_json: JsonOption = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """One load: per source read and stored, and its deliveries by status."""
    with ApiClient(api_url, api_key) as api:
        load = _follow(api, load_id, timeout) if wait else api.get(f"{BASE}/{load_id}")
    _report(load, as_json, judge=wait)


LIST_COLUMNS = [
    ("id", "id"),
    ("status", "status"),
    ("trigger", "trigger"),
    ("since", "since"),
    ("read", "read"),
    ("total", "total"),
    ("created", "created_at"),
    ("finished", "finished_at"),
]


@app.command("list")
def list_loads(
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Initial loads, newest first."""
    with ApiClient(api_url, api_key) as api:
        answer = api.get(BASE, limit=limit, cursor=cursor)
    page(answer, LIST_COLUMNS, as_json=as_json, title="Initial loads")


def _follow(api: ApiClient, load_id: int, timeout: float) -> Any:
    """Poll until the load has ended, drawing a bar of records read (on a terminal; quiet in a pipe)."""
    deadline = time.monotonic() + timeout
    load = api.get(f"{BASE}/{load_id}")
    with Progress(
        TextColumn("initial load {task.fields[load_id]} [bold]{task.fields[status]}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records read"),
        TimeElapsedColumn(),
        console=err,
        disable=plain() or not err.is_terminal,
        transient=True,
    ) as progress:
        bar = progress.add_task("load", total=load.get("total"), load_id=load_id, status=load["status"])
        while load["status"] in OPEN:
            progress.update(bar, completed=load["read"], total=load.get("total"), status=load["status"])
            if time.monotonic() > deadline:
                fail(f"initial load {load_id} is still {load['status']} after {timeout:.0f}s")
            time.sleep(0.5)
            load = api.get(f"{BASE}/{load_id}")
    return load


def _report(load: dict[str, Any], as_json: bool, *, judge: bool = True) -> None:
    """Print the load; with `judge`, a failed one ends the command with 1 (a script can tell)."""
    if as_json:
        show(load)
        return
    out.print(f"Initial load {load['id']}: [bold]{load['status']}[/]")
    for source in load.get("sources") or []:
        total = source.get("total")
        read = f"{source['read']}" + (f"/{total}" if total is not None else "")
        line = f"  {source['label']}: read {read}, stored {source['stored']}, pages {source['pages']}"
        if source.get("error"):
            line += f" [red]{source['error'].get('code')}[/]: {source['error'].get('message')}"
        out.print(line)
    if load.get("deliveries"):
        deliveries = ", ".join(f"{k} {v}" for k, v in sorted(load["deliveries"].items()))
        out.print(f"  deliveries: {deliveries}")
    for error in load.get("errors") or []:
        out.print(f"  [red]error[/] {error.get('source', '')} {error.get('code')}: {error.get('message')}")
    if judge and load["status"] == "failed":
        raise typer.Exit(1)
