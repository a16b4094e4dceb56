"""`bridge api-keys …`: operator API keys (admin)."""

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
    note,
    out,
    page,
    show,
)

app = typer.Typer(help="Create, list and revoke operator API keys (admin).", no_args_is_help=True)
BASE = "/api/v1/api-keys"
COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("role", "role"),
    ("prefix", "prefix"),
    ("created", "created_at"),
    ("last used", "last_used_at"),
    ("revoked", "revoked_at"),
]


@app.command()
def create(
    name: Annotated[str, typer.Option(help="who or what holds the key")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin")],
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key. It is printed once, on stderr (with --json: inside the JSON, as `key`): store it now."""
    with ApiClient(api_url, api_key) as api:
        created = api.call("POST", BASE, json_body={"name": name, "role": role})
    if as_json:
        show(created)
        return
    key = created.pop("key")
    show(created)
    note(f"API key (shown once): {key}")


@app.command("list")
def list_(
    include_revoked: Annotated[bool, typer.Option("--include-revoked", help="also revoked keys")] = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """List keys (never the keys themselves)."""
    with ApiClient(api_url, api_key) as api:
        answer = api.get(BASE, limit=limit, cursor=cursor, include_revoked=include_revoked or None)
    page(answer, COLUMNS, as_json=as_json, title="API keys")


@app.command()
def revoke(
    key_id: str,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key at once."""
    with ApiClient(api_url, api_key) as api:
        revoked = api.call("DELETE", f"{BASE}/{key_id}")
    if as_json:
        show(revoked)
        return
    out.print(f"key {revoked['id']} ({revoked['name']}) revoked at {revoked['revoked_at']}", highlight=False)
