"""`bridge api-keys …`: operator API keys (admin)."""

from __future__ import annotations

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
    fail,
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
    role: Annotated[str | None, typer.Option(help="viewer, operator or admin")] = None,
    bootstrap: Annotated[
        bool,
        typer.Option(
            "--bootstrap",
            help=(
                "make the first admin key straight in the database (BRIDGE_DATABASE_URL; by default the "
                "embedded one in this folder), no API key needed; refused once an admin key exists"
            ),
        ),
    ] = False,
    api_url: ApiUrlOption = DEFAULT_API_URL,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key. It is printed once, on stderr (with --json: inside the JSON, as `key`): store it now."""
    if bootstrap:
        if role not in (None, "admin"):
            fail("--bootstrap makes an admin key; leave out --role or pass --role admin", 2)
        created = _first_admin(name)
    else:
        if role is None:
            fail("--role is required (viewer, operator or admin)", 2)
        with ApiClient(api_url, api_key) as api:
            created = api.call("POST", BASE, json_body={"name": name, "role": role})
    if as_json:
        show(created)
        return
    key = created.pop("key")
    show(created)
    note(f"API key (shown once): {key}")


def _first_admin(name: str) -> dict[str, Any]:
    import asyncio

    from app.cli import preflight
    from app.db import create_engine, create_sessionmaker
    from app.migrate import upgrade_to_head
    from app.services import api_keys
    from app.services.operator_errors import OperatorError

    settings = preflight.load_settings(for_service=False)

    async def make() -> dict[str, Any]:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                key, plaintext = await api_keys.create_first_admin(session, name=name)
                return {**api_keys.view(key), "key": plaintext}
        finally:
            await engine.dispose()

    try:
        if settings.embedded:
            upgrade_to_head(settings.database_url)  # as `bridge serve` does on its first start
        else:
            preflight.check_schema(settings)
        return asyncio.run(make())
    except OperatorError as exc:
        fail(f"{exc.code}: {exc.message}")
    except Exception as exc:
        if preflight.unreachable(exc):
            preflight.database_down(settings, exc)
        raise


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
