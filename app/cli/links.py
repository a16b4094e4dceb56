"""`bridge links`: where a source record went, its id in each target."""

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
)

COLUMNS = [
    ("connection", "connection_id"),
    ("source", lambda r: f"{r['source_system']} {r['source_object']} {r['source_id']}"),
    ("target", lambda r: f"{r['target_object']} {r['target_id'] or '-'}"),
    ("deleted", "deleted"),
    ("last applied", "last_applied_modified_at"),
]


def links(
    record_id: Annotated[str, typer.Argument(help="the source record id")],
    system: Annotated[
        str | None, typer.Option(help="the source system: ctms or crm (default: either)")
    ] = None,
    object_: Annotated[str | None, typer.Option("--object", help="e.g. crm_activity__v")] = None,
    connection: Annotated[str | None, typer.Option("--connection", help="connection id")] = None,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Where a source record went: its id and last write in each target."""
    with ApiClient(api_url, api_key) as api:
        answer = api.get(
            "/api/v1/links",
            system=system,
            id=record_id,
            object=object_,
            connection_id=connection,
            limit=limit,
            cursor=cursor,
        )
        if not answer["items"]:
            api.require_connection(connection)
    page(answer, COLUMNS, as_json=as_json, title="Links")
