"""`bridge audit-log`: who changed what, newest first."""

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
    ("id", "id"),
    ("at", "at"),
    ("actor", "actor"),
    ("action", "action"),
    ("resource", lambda e: f"{e['resource_type']} {e['resource_id'] or ''}".strip()),
]


def audit_log(
    action: Annotated[str | None, typer.Option(help="e.g. delivery.replay")] = None,
    resource_type: Annotated[str | None, typer.Option(help="e.g. connection")] = None,
    resource_id: Annotated[str | None, typer.Option(help="one resource's id")] = None,
    actor: Annotated[str | None, typer.Option(help="exactly as listed")] = None,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit log: who changed what, with the state before and after (--json), secrets redacted."""
    with ApiClient(api_url, api_key) as api:
        answer = api.get(
            "/api/v1/audit-log", action=action, resource_type=resource_type, resource_id=resource_id,
            actor=actor, limit=limit, cursor=cursor,
        )  # fmt: skip
    page(answer, COLUMNS, as_json=as_json, title="Audit log")
