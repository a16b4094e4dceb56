"""Cursor pagination: every row once, in order, across pages, even while rows are added."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.operator.conftest import Api, add_delivery, connection_body, problem


async def walk(api: Api, path: str, limit: int, between: Any = None, **params: Any) -> list[list[Any]]:
    """Every page's item ids, following next_cursor to the end; ``between`` runs after the first page."""
    pages: list[list[Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        body = (await api.get(path, params=query)).json()
        pages.append([item["id"] for item in body["items"]])
        if len(pages) == 1 and between is not None:
            await between()
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_deliveries_page_without_gaps_or_repeats_while_new_rows_arrive(
    api: Api, clean_db: AsyncEngine
) -> None:
    ids = [await add_delivery(clean_db) for _ in range(7)]
    added: list[int] = []

    async def arrive() -> None:
        added.append(await add_delivery(clean_db))

    pages = await walk(api, "/api/v1/deliveries", 3, between=arrive)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == sorted(ids, reverse=True)  # newest first, each once
    assert added[0] not in [i for p in pages for i in p]  # arrived before the first page: not mixed in
    exact = await walk(api, "/api/v1/deliveries", 8)
    assert [len(p) for p in exact] == [8]  # exactly a page full: no empty page after it
    assert (await api.get("/api/v1/deliveries")).json()["next_cursor"] is None  # default limit 50


async def test_connections_page_by_name_and_api_keys_by_creation(api: Api) -> None:
    for name in ("delta", "alpha", "echo", "charlie", "bravo"):
        assert (await api.post("/api/v1/connections", connection_body(name=name))).status_code == 201
    pages = await walk(api, "/api/v1/connections", 2)
    names = [
        (await api.get(f"/api/v1/connections/{connection_id}")).json()["name"]
        for p in pages
        for connection_id in p
    ]
    assert names == ["alpha", "bravo", "charlie", "delta", "echo"]
    keys = [(await api.new_key("viewer", name=f"k{i}"))["id"] for i in range(5)]
    listed = [i for p in await walk(api, "/api/v1/api-keys", 2) for i in p]
    assert len(listed) == len(set(listed)) == 7  # the five and the fixture's viewer and operator keys
    assert listed[:5] == keys[::-1]


async def test_audit_log_pages(api: Api) -> None:
    for i in range(4):
        await api.put("/api/v1/settings", {"retry_horizon_seconds": 3600 + i})
    pages = await walk(api, "/api/v1/audit-log", 3, action="settings.update")
    assert [len(p) for p in pages] == [3, 1]
    assert len({i for p in pages for i in p}) == 4


async def test_bad_cursors_and_limits_are_clear_errors(api: Api, clean_db: AsyncEngine) -> None:
    for _ in range(3):
        await add_delivery(clean_db)
    cursor = (await api.get("/api/v1/deliveries", params={"limit": 1})).json()["next_cursor"]
    for bad in ("not-base64!", "bm90IGpzb24", cursor[:-2] + "xx"):
        problem(await api.get("/api/v1/deliveries", params={"cursor": bad}), 400, "CURSOR_INVALID")
    # a cursor from one list is not accepted by a list with another sort key
    problem(await api.get("/api/v1/api-keys", params={"cursor": cursor}), 400, "CURSOR_INVALID")
    problem(await api.get("/api/v1/deliveries", params={"limit": 501}), 422, "VALIDATION_FAILED")
    problem(await api.get("/api/v1/deliveries", params={"limit": 0}), 422, "VALIDATION_FAILED")
    assert len((await api.get("/api/v1/deliveries", params={"limit": 500})).json()["items"]) == 3
