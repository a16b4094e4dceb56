"""`bridge transfer …`: start a Transfer job run now, and read what runs did."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.http import (
    DEFAULT_API_URL,
    ApiClient,
    ApiKeyOption,
    ApiUrlOption,
    CursorOption,
    JsonOption,
    LimitOption,
    out,
    page,
    show,
    until_finished,
)

app = typer.Typer(help="Run the Transfer job now, or look at past runs.", no_args_is_help=True)
BASE = "/api/v1/transfer-runs"


@app.command("run")
def run(
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait until the run has finished")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait at most")] = 300.0,
    as_json: JsonOption = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Start a Transfer job run (CRM deletions, unmatched retries, catch-up) and print its counts."""
    with ApiClient(api_url, api_key) as api:
        started = api.call("POST", BASE)
        run_ = (
            until_finished(api, f"{BASE}/{started['id']}", started, timeout, "Transfer run")
            if wait
            else started
        )
    if as_json:
        show(run_)
        return
    out.print(f"Transfer run {run_['id']}: [bold]{run_['status']}[/]")
    for label, counts in (run_.get("counts") or {}).items():
        out.print(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for error in run_.get("errors") or []:
        out.print(f"  [red]error[/] {error.get('source', '')} {error.get('code')}: {error.get('message')}")
    if run_["status"] in ("failed", "skipped"):
        raise typer.Exit(1)


@app.command("show")
def show_run(
    run_id: int,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """One run with its counts and errors."""
    with ApiClient(api_url, api_key) as api:
        show(api.get(f"{BASE}/{run_id}"))


LIST_COLUMNS = [
    ("id", "id"),
    ("trigger", "trigger"),
    ("status", "status"),
    ("started", "started_at"),
    ("finished", "finished_at"),
    ("errors", lambda r: len(r.get("errors") or [])),
]


@app.command("list")
def list_runs(
    status: Annotated[str | None, typer.Option(help="e.g. running, succeeded, failed")] = None,
    trigger: Annotated[str | None, typer.Option(help="schedule or manual")] = None,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Transfer job runs, newest first."""
    with ApiClient(api_url, api_key) as api:
        answer = api.get(BASE, status=status, trigger=trigger, limit=limit, cursor=cursor)
    page(answer, LIST_COLUMNS, as_json=as_json, title="Transfer runs")
