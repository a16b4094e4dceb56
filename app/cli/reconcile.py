"""`bridge reconcile …`: do both sides agree (a run and its drifts, as a table, JSON or CSV), and repair."""

from __future__ import annotations

import csv
import sys
from typing import Annotated, Any

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
    table,
    until_finished,
)

app = typer.Typer(
    help="Compare both sides (a reconciliation run), list its drifts, repair them.", no_args_is_help=True
)
BASE = "/api/v1/reconciliations"
KindOption = Annotated[
    list[str] | None,
    typer.Option("--kind", help="only drifts of this kind (repeatable), e.g. changed_in_target"),
]
DRIFT_COLUMNS: list[tuple[str, Any]] = [
    ("id", "id"),
    ("kind", "kind"),
    ("connection", "connection_id"),
    ("source", lambda d: f"{d['source_system']}/{d['source_object']}/{d['source_id']}"),
    ("target", lambda d: f"{d['target_object']}/{d['target_id'] or '-'}"),
    (
        "fields",
        lambda d: "; ".join(
            f"{f['field']}: {f['bridge_wrote']!r} -> {f['target_has']!r}" for f in d["fields"]
        ),
    ),
    ("repaired", "repaired_at"),
]
CSV_FIELDS = [
    "id",
    "kind",
    "connection_id",
    "source_system",
    "source_object",
    "source_id",
    "target_object",
    "target_id",
    "field",
    "bridge_wrote",
    "target_has",
    "repaired_at",
]


@app.command("run")
def run(
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait until the run has finished")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait at most")] = 1800.0,
    as_json: JsonOption = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Start a reconciliation run and print its drifts by kind."""
    with ApiClient(api_url, api_key) as api:
        run_ = api.call("POST", BASE)
        if wait:
            run_ = until_finished(api, f"{BASE}/{run_['id']}", run_, timeout, "Reconciliation")
    _summary(run_, as_json)


@app.command("show")
def show_run(
    run_id: int,
    kind: KindOption = None,
    connection: Annotated[str | None, typer.Option(help="only this connection's drifts")] = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="every drift as CSV (one row per changed field)")
    ] = False,
    as_json: JsonOption = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """A run's summary and all its drifts: a table, --json (the run with its drifts) or --csv."""
    with ApiClient(api_url, api_key) as api:
        run_ = api.get(f"{BASE}/{run_id}")
        drifts = _all_drifts(api, run_id, kind, connection)
    if as_json:
        show({**run_, "drifts": drifts})
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for drift in drifts:
            for changed in drift["fields"] or [{}]:
                writer.writerow({**drift, **changed})
    else:
        _summary(run_, False, judge=False)
        table(drifts, DRIFT_COLUMNS, title=f"Drifts of reconciliation {run_id}")


@app.command("list")
def list_runs(
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reconciliation runs, newest first."""
    columns = [
        ("id", "id"),
        ("status", "status"),
        ("checked", "checked"),
        ("drifts", lambda r: sum((r.get("counts") or {}).values())),
        ("started", "started_at"),
        ("finished", "finished_at"),
    ]
    with ApiClient(api_url, api_key) as api:
        answer = api.get(BASE, limit=limit, cursor=cursor)
    page(answer, columns, as_json=as_json, title="Reconciliations")


@app.command("repair")
def repair(
    run_id: int,
    kind: KindOption = None,
    source_id: Annotated[
        list[str] | None, typer.Option("--source-id", help="only this record (repeatable)")
    ] = None,
    connection: Annotated[str | None, typer.Option(help="only this connection's drifts")] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="do it (without: a dry run that only says what)")
    ] = False,
    as_json: JsonOption = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Re-send what drifted. Without --apply, a dry run: what would be sent, and what cannot be fixed so."""
    body: dict[str, Any] = {"dry_run": not apply, "kinds": kind or None, "source_ids": source_id or None}
    body["connection_id"] = connection
    with ApiClient(api_url, api_key) as api:
        answer = api.call("POST", f"{BASE}/{run_id}/repair", json_body=body)
    if as_json:
        show(answer)
        return
    verb = "would send" if answer["dry_run"] else "sent"
    out.print(f"Repair of reconciliation {run_id}: {verb} {answer['events']} event(s)")
    for action in answer["actions"]:
        line = (
            f"  {action['action']}: {action['connection_id']} {action['source_object']} {action['source_id']}"
        )
        out.print(f"{line} ({action['kind']})", highlight=False)
        for first in action.get("first_writes") or []:
            writes = ", ".join(f"{k}={v!r}" for k, v in sorted(first["fields"].items()))
            out.print(f"      first writes {first['object']}: {writes}", highlight=False)
        if action.get("fields"):
            writes = ", ".join(f"{k}={v!r}" for k, v in sorted(action["fields"].items()))
            out.print(f"      writes {writes}", highlight=False)
        elif action.get("would_be") and action["would_be"] != "delivered":
            why = f" {action['code']}: {action['message']}" if action.get("code") else ""
            out.print(f"      would be {action['would_be']}{why}", highlight=False)
        for then in action.get("then_writes") or []:
            writes = ", ".join(f"{k}={v!r}" for k, v in sorted(then["fields"].items()))
            out.print(f"      then writes {then['object']}: {writes}", highlight=False)
    for skipped in answer["skipped"]:
        out.print(f"  [yellow]skipped[/] {skipped['source_id']} ({skipped['kind']}): {skipped['reason']}")
    if answer["dry_run"] and answer["actions"]:
        out.print("  (a dry run: pass --apply to send)")


def _all_drifts(api: ApiClient, run_id: int, kind: list[str] | None, connection: str | None) -> list[Any]:
    drifts: list[Any] = []
    cursor = None
    while True:
        answer = api.get(
            f"{BASE}/{run_id}/drifts", kind=kind, connection_id=connection, limit=500, cursor=cursor
        )
        drifts += answer["items"]
        cursor = answer.get("next_cursor")
        if not cursor:
            return drifts


def _summary(run_: dict[str, Any], as_json: bool, *, judge: bool = True) -> None:
    if as_json:
        show(run_)
        return
    counts = run_.get("counts") or {}
    out.print(
        f"Reconciliation {run_['id']}: [bold]{run_['status']}[/], {run_['checked']} links checked, {sum(counts.values())} drift(s)"
    )
    for kind, n in sorted(counts.items()):
        out.print(f"  {kind}: {n}")
    if run_.get("calls"):
        out.print("  API calls: " + ", ".join(f"{k} {v}" for k, v in sorted(run_["calls"].items())))
    for error in run_.get("errors") or []:
        out.print(f"  [red]error[/] {error.get('source', '')} {error.get('code')}: {error.get('message')}")
    if judge and run_["status"] == "failed":
        raise typer.Exit(1)


@app.command("resync")
def resync(
    connection: Annotated[str, typer.Option(help="the connection to write them to")],
    source_object: Annotated[str, typer.Option("--object", help="e.g. crm_activity__v, Call2_vod__c")],
    source_ids: Annotated[
        list[str] | None, typer.Argument(help="the records' ids in their source system (or give --where)")
    ] = None,
    system: Annotated[str, typer.Option(help="ctms or crm: where the records live")] = "ctms",
    where: Annotated[
        list[str] | None,
        typer.Option(
            help="field=value: every record whose field has this value (repeat to AND them), e.g. "
            "--where study__v=V0S000000001001; true and false are booleans"
        ),
    ] = None,
    as_json: JsonOption = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Force a re-sync of records to one connection, drift or not (the content hash is ignored): the ids
    given, or every record the source finds for --where."""
    if bool(source_ids) == bool(where):
        raise typer.BadParameter("give record ids or --where, not both")
    body: dict[str, Any] = {
        "connection_id": connection,
        "source_system": system,
        "source_object": source_object,
    }
    if where:
        body["where"] = dict(_condition(item) for item in where)
    else:
        body["source_ids"] = source_ids
    with ApiClient(api_url, api_key) as api:
        answer = api.call("POST", "/api/v1/resync", json_body=body)
    if as_json:
        show(answer)
    else:
        out.print(f"{answer['events']} record(s) queued for a forced re-sync to {connection}")


def _condition(item: str) -> tuple[str, str | bool]:
    field, sep, value = item.partition("=")
    if not sep or not field:
        raise typer.BadParameter(f"--where takes field=value, not {item!r}")
    return field.strip(), {"true": True, "false": False}.get(value, value)
