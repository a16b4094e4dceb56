"""`bridge events …`: the webhook events the bridge accepted, and what became of them."""

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
    page,
    show,
)

app = typer.Typer(help="Inspect received events and their deliveries.", no_args_is_help=True)
BASE = "/api/v1/events"

COLUMNS = [
    ("id", "id"),
    ("received", "received_at"),
    ("source", "source"),
    ("type", "type"),
    ("record", lambda e: f"{e['object'] or '-'} {e['record_id'] or '-'}"),
    ("connection", "connection_id"),
    ("status", "status"),
    ("error", "error_code"),
]


@app.command("list")
def list_(
    status: Annotated[list[str] | None, typer.Option("--status", help="repeat for several")] = None,
    source: Annotated[str | None, typer.Option(help="ctms or crm")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="e.g. crm.call.sent_to_vault")] = None,
    connection: Annotated[str | None, typer.Option("--connection", help="connection id")] = None,
    object_: Annotated[str | None, typer.Option("--object", help="e.g. crm_activity__v")] = None,
    record_id: Annotated[str | None, typer.Option(help="the source record id")] = None,
    received_after: Annotated[str | None, typer.Option(help="ISO time with offset")] = None,
    received_before: Annotated[str | None, typer.Option(help="ISO time with offset")] = None,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """List events, newest first."""
    filters = {
        "status": status or None, "source": source, "type": type_, "connection_id": connection,
        "object": object_, "record_id": record_id, "received_after": received_after,
        "received_before": received_before,
    }  # fmt: skip
    with ApiClient(api_url, api_key) as api:
        answer = api.get(BASE, limit=limit, cursor=cursor, **filters)
        if not answer["items"]:
            api.require_connection(connection)
    page(answer, COLUMNS, as_json=as_json, title="Events")


@app.command("show")
def show_one(
    event_id: int,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one event with its payload, deliveries and attempts."""
    with ApiClient(api_url, api_key) as api:
        show(api.get(f"{BASE}/{event_id}"))
