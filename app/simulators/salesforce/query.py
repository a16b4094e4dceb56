"""SOQL over REST: ``query`` / ``queryAll`` and the query-locator pages that follow a large result.

A result larger than the batch size (2,000 by default; ``Sforce-Query-Options: batchSize=N`` asks for
200-2,000) answers ``done: false`` and a ``nextRecordsUrl`` to fetch the rest from.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response

from app.simulators.salesforce.errors import ApiError
from app.simulators.salesforce.soql import parse
from app.simulators.salesforce.soql_eval import Evaluator
from app.simulators.salesforce.state import SalesforceState
from app.simulators.salesforce.web import StateDep, VersionDep, sf_json

router = APIRouter(prefix="/services/data/{version}")

MIN_BATCH, MAX_BATCH = 200, 2000
_BATCH_OPTION = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def _batch_size(request: Request, state: SalesforceState) -> int:
    match = _BATCH_OPTION.search(request.headers.get("sforce-query-options", ""))
    if match is None:
        return state.query_batch_size
    return min(max(int(match.group(1)), MIN_BATCH), MAX_BATCH)


def _page(
    version: str, locator: str, rows: list[dict[str, Any]], total: int, start: int, size: int
) -> dict[str, Any]:
    end = start + size
    page: dict[str, Any] = {"totalSize": total, "done": end >= len(rows), "records": rows[start:end]}
    if end < len(rows):
        page["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{end}"
    return page


async def _run(request: Request, version: str, state: SalesforceState, *, include_deleted: bool) -> Response:
    text = request.query_params.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    total, rows = Evaluator(state.store, parse(text), version).run(include_deleted=include_deleted)
    size = _batch_size(request, state)
    locator = ""
    if len(rows) > size:
        locator = state.store.ids.new("01g")
        state.cursors[locator] = (rows, size)
    return sf_json(_page(version, locator, rows, total, 0, size))


@router.get("/query")
@router.get("/query/")
async def query(request: Request, api: VersionDep, state: StateDep) -> Response:
    return await _run(request, api.text, state, include_deleted=False)


@router.get("/queryAll")
@router.get("/queryAll/")
async def query_all(request: Request, api: VersionDep, state: StateDep) -> Response:
    return await _run(request, api.text, state, include_deleted=True)


@router.get("/query/{locator}")
@router.get("/queryAll/{locator}")
async def query_more(locator: str, api: VersionDep, state: StateDep) -> Response:
    cursor_id, _, offset = locator.rpartition("-")
    cursor = state.cursors.get(cursor_id)
    if cursor is None or not offset.isdigit() or int(offset) > len(cursor[0]):
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    rows, size = cursor
    return sf_json(_page(api.text, cursor_id, rows, len(rows), int(offset), size))
