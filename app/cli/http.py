"""What every operator command shares: the HTTP client for the operator API, its options, and output.

Commands talk to a running bridge over HTTP (never to its database), so they work from any machine that
can reach the API, with the same keys and roles as any other client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.table import Table

DEFAULT_API_URL = "http://127.0.0.1:8000"

ApiUrlOption = Annotated[
    str, typer.Option("--api-url", envvar="BRIDGE_API_URL", help="the bridge's base URL", show_default=True)
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="BRIDGE_API_KEY", help="an operator API key", show_default=False),
]
LimitOption = Annotated[int, typer.Option("--limit", min=1, max=500, help="items per page")]
CursorOption = Annotated[
    str | None, typer.Option("--cursor", help="next_cursor printed by the previous page")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print the raw JSON answer")]
# Commands whose output is the JSON answer anyway take --json too, so scripts can pass it everywhere.

# soft_wrap: Rich must not break a line inside a word or an id; the terminal wraps long lines itself.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
WRONG_URL_HINT = "is --api-url (BRIDGE_API_URL) the bridge's base URL, e.g. http://127.0.0.1:8000?"


def plain() -> bool:
    """Output for scripts (a pipe, a file, a CI log): tab-separated rows and plain JSON, no Rich layout."""
    return not out.is_terminal


def fail(message: str, code: int = 1) -> NoReturn:
    if err.is_terminal:
        err.print(f"[bold red]error:[/] {message}", highlight=False)
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def note(message: str) -> None:
    """A line for the person, not the script: on stderr, so stdout stays data."""
    typer.echo(message, err=True)


class ApiClient:
    """A thin client: one call, JSON in and out; a problem+json answer ends the command with its code."""

    def __init__(self, api_url: str, api_key: str | None, *, timeout: float = 60.0) -> None:
        if not api_key:
            fail("no API key: pass --api-key or set BRIDGE_API_KEY", 2)
        self.base_url = api_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def call(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None and v != []}
        response = self._send(method, path, json_body=json_body, params=query)
        if response.status_code >= 400:
            fail(_problem_text(response))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            self._not_the_bridge(method, path, response)

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def exists(self, path: str) -> bool:
        """Whether GET path answers (a 404 of the resource means no); other errors end the command."""
        response = self._send("GET", path)
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            fail(_problem_text(response))
        return True

    def require_connection(self, connection_id: str | None, flag: str = "--connection") -> None:
        """Refuse a connection id that names no connection (a typo would otherwise list nothing)."""
        if connection_id and not self.exists(f"/api/v1/connections/{connection_id}"):
            fail(f"no connection {connection_id} ({flag}); `bridge connections list` shows the ids")

    def _send(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=json_body, params=params)
        except httpx.TransportError as exc:
            fail(f"cannot reach the bridge at {self.base_url} ({type(exc).__name__}); {WRONG_URL_HINT}", 2)
        is_problem = response.headers.get("content-type", "").startswith(PROBLEM_JSON)
        if response.status_code >= 400 and not is_problem:
            self._not_the_bridge(method, path, response)
        if is_problem and _code(response) in ROUTING_CODES:
            self._not_the_bridge(method, path, response)
        return response

    def _not_the_bridge(self, method: str, path: str, response: httpx.Response) -> NoReturn:
        fail(
            f"{self.base_url} answered {method} {path} with HTTP {response.status_code}, not as the "
            f"bridge's operator API would; {WRONG_URL_HINT}",
            2,
        )


PROBLEM_JSON = "application/problem+json"
# The bridge answers these when no route matches: the URL, not the resource, is wrong.
ROUTING_CODES = frozenset({"NOT_FOUND", "METHOD_NOT_ALLOWED"})


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _problem_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    text = f"{response.status_code} {body.get('code', '')}: {body.get('detail', '')}"
    for item in body.get("errors") or []:
        text += (
            f"\n  {_flag_for([str(p) for p in item.get('loc', []) if p != 'body'])}: {item.get('msg', '')}"
        )
    return text


# Body fields that no single option sets, named by the options that do (modules add theirs).
FIELD_FLAGS: dict[str, str] = {}


def _current_context() -> Any:
    """The running command's context: Typer now carries its own copy of Click, older ones use Click's."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - a Typer that runs on Click itself
        from click import get_current_context  # type: ignore[no-redef]  # the same function, by its older home
    return get_current_context(silent=True)


def _flag_for(loc: list[str]) -> str:
    """The command's option for an API body field (`crm.salesforce.client_id` is --client-id), so the
    message names what the user typed; the field's path when no option matches."""
    context = _current_context()
    options = {o for p in context.command.params for o in p.opts} if context else set()
    for part in reversed(loc):
        flag = "--" + part.replace("_", "-")
        if flag in options:
            return flag
    path = ".".join(loc)
    return FIELD_FLAGS.get(path, path)


def show(document: Any) -> None:
    if plain():
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        out.print_json(data=document)


def table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple[str, str | Callable[[dict[str, Any]], Any]]],
    *,
    title: str | None = None,
) -> None:
    """A rich table on a terminal, else tab-separated rows under a header line (for grep, cut, awk);
    each column is (header, key or function of the row)."""
    if plain():
        typer.echo("\t".join(header for header, _ in columns))
        for row in rows:
            cells = (_cell(getter(row) if callable(getter) else row.get(getter)) for _, getter in columns)
            typer.echo("\t".join(" ".join(cell.split()) for cell in cells))
        return
    grid = Table(title=title, show_lines=False)
    for number, (header, _) in enumerate(columns):
        # the first column is the id people copy: never split it; the others fold when space is short
        grid.add_column(header, overflow="fold", no_wrap=number == 0)
    for row in rows:
        grid.add_row(*(_cell(getter(row) if callable(getter) else row.get(getter)) for _, getter in columns))
    out.print(grid)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def page(answer: dict[str, Any], columns: Sequence[tuple[str, Any]], *, as_json: bool, title: str) -> None:
    """One page of a list, with a hint for the next one."""
    if as_json:
        show(answer)
        return
    table(answer["items"], columns, title=title)
    if answer.get("next_cursor"):
        hint = f"more: --cursor {answer['next_cursor']}"
        if plain():
            note(hint)
        else:
            out.print(hint, highlight=False)


def until_finished(api: ApiClient, path: str, first: dict[str, Any], timeout: float, what: str) -> Any:
    """Poll `path` under a spinner until the operation (`first`, as started) is neither queued nor
    running; fail when `timeout` seconds pass first."""
    current = first
    deadline = time.monotonic() + timeout
    with err.status(f"{what} {first['id']} …", spinner="dots"):
        while current["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                fail(f"{what.lower()} {first['id']} is still {current['status']} after {timeout:.0f}s")
            time.sleep(0.5)
            current = api.get(path)
    return current


def json_document(value: str | None, what: str) -> Any:
    """A JSON option: inline JSON, or @path to a JSON file."""
    if value is None:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        return json.loads(text)
    except ValueError as exc:
        fail(f"{what} is not valid JSON: {exc}", 2)
