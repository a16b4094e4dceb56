"""VQL routes: ``POST /api/{v}/query`` and the ``next_page`` / ``previous_page`` URLs it hands out.

Vault caches a query's result set and pages through it with URLs the client calls with POST (GET works
too); they stay valid for 72 hours after their last use.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.simulators.vault import responses as r
from app.simulators.vault import vql, vql_run
from app.simulators.vault.auth import SessionDep, StateDep
from app.simulators.vault.schema import FieldType
from app.simulators.vault.state import QueryCursor, VaultState

router = APIRouter()


@router.post("/api/{v}/query")
async def submit_query(v: str, request: Request, state: StateDep, session: SessionDep) -> Response:
    form = await r.read_form(request)
    text = form.get("q") or request.query_params.get("q")
    if not text or not text.strip():
        raise r.VaultError(r.PARAMETER_REQUIRED, "Missing required parameter [q]")
    query = vql.parse(text)
    rows = vql_run.run(state, query)
    page_size = min(
        query.page_size if query.page_size is not None else state.config.query_page_size,
        state.config.query_page_size,
    )
    cursor_id = str(uuid.uuid4())
    _forget_stale(state)
    state.cursors[cursor_id] = QueryCursor(rows, page_size, state.clock())
    page = _page(state, v, cursor_id, page_size, query.page_offset)
    if request.headers.get("x-vaultapi-describequery", "").lower() == "true":
        page["queryDescribe"] = _describe(state, query)
    return r.vault_json(page)


@router.post("/api/{v}/query/{cursor_id}")
@router.get("/api/{v}/query/{cursor_id}")
async def next_page(
    v: str, cursor_id: str, request: Request, state: StateDep, session: SessionDep
) -> Response:
    _forget_stale(state)
    cursor = state.cursors.get(cursor_id)
    if cursor is None:
        raise r.VaultError(r.INVALID_DATA, "The query results have expired; submit the query again")
    cursor.last_used = state.clock()
    size = _int(request.query_params.get("pagesize"), cursor.page_size)
    offset = _int(request.query_params.get("pageoffset"), 0)
    return r.vault_json(_page(state, v, cursor_id, min(size, state.config.query_page_size), offset))


def _describe(state: VaultState, query: vql.Query) -> dict[str, Any]:
    """``X-VaultAPI-DescribeQuery: true``: the query target and each selected field's static metadata."""
    schema = state.object_schema(query.target)
    described: dict[str, Any] = {"type": "select__sys"}
    if schema is None:
        return described
    described["object"] = {"name": schema.name, "label": schema.label, "label_plural": schema.label_plural}
    fields: list[dict[str, Any]] = []
    for name in query.fields:
        f = schema.field(name)
        if f is None:  # a relationship path or function: named, without metadata
            fields.append({"name": name})
        elif f.type is FieldType.ID:
            fields.append({"type": "id", "required": True, "name": name})
        else:
            meta: dict[str, Any] = {"label": f.label or name, "type": f.type.value, "required": f.required}
            meta["name"] = name
            if f.max_length is not None:
                meta["max_length"] = f.max_length
            fields.append(meta)
    described["fields"] = fields
    return described


def _page(state: VaultState, v: str, cursor_id: str, size: int, offset: int) -> dict[str, Any]:
    rows = state.cursors[cursor_id].rows
    page = rows[offset : offset + size] if size > 0 else []
    details: dict[str, Any] = {"pagesize": size, "pageoffset": offset, "size": len(page), "total": len(rows)}
    base = f"/api/{v}/query/{cursor_id}"
    if offset > 0 and size > 0:
        details["previous_page"] = f"{base}?pagesize={size}&pageoffset={max(offset - size, 0)}"
    if size > 0 and offset + size < len(rows):
        details["next_page"] = f"{base}?pagesize={size}&pageoffset={offset + size}"
    if "next_page" not in details and "previous_page" not in details:
        state.cursors.pop(cursor_id, None)  # nothing to page through: no need to keep it
    return {"responseStatus": "SUCCESS", "responseDetails": details, "data": page}


def _int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise r.VaultError(r.INVALID_DATA, f"Invalid paging parameter [{value}]")
    return int(value)


def _forget_stale(state: VaultState) -> None:
    oldest = state.clock() - timedelta(seconds=state.config.query_cursor_ttl_seconds)
    for cursor_id in [c for c, cur in state.cursors.items() if cur.last_used < oldest]:
        del state.cursors[cursor_id]
