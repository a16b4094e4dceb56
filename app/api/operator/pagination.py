"""Cursor pagination for every operator list: ``?limit=&cursor=`` in, ``{items, next_cursor}`` out.

A cursor is opaque to clients: base64url of the sort key of the last item returned. Keyset pages never
skip or repeat a row when rows are added between calls (new rows land before the first page).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, Field

from app.api.problems import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

ItemT = TypeVar("ItemT")
RowT = TypeVar("RowT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null on the last page", examples=[None]
    )


def encode_cursor(values: Sequence[Any]) -> str:
    raw = orjson.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> Problem:
    return Problem(400, "CURSOR_INVALID", "the cursor was not issued by this list; start again without one")


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None

    def _values(self, kinds: tuple[type, ...]) -> list[Any] | None:
        if self.cursor is None:
            return None
        try:
            values = orjson.loads(base64.urlsafe_b64decode(self.cursor + "=" * (-len(self.cursor) % 4)))
        except (binascii.Error, ValueError):
            raise _bad_cursor() from None
        if not isinstance(values, list) or len(values) != len(kinds):
            raise _bad_cursor()
        decoded: list[Any] = []
        for value, kind in zip(values, kinds, strict=True):
            if kind is datetime and isinstance(value, str):
                try:
                    value = datetime.fromisoformat(value)
                except ValueError:
                    raise _bad_cursor() from None
            if not isinstance(value, kind) or isinstance(value, bool):
                raise _bad_cursor()
            if isinstance(value, str) and "\x00" in value:  # never issued; PostgreSQL cannot compare it
                raise _bad_cursor()
            if isinstance(value, int) and not -(2**63) <= value < 2**63:  # never issued; beyond BIGINT
                raise _bad_cursor()
            if isinstance(value, datetime) and value.utcoffset() is None:  # issued ones carry an offset
                raise _bad_cursor()
            decoded.append(value)
        return decoded

    def int_key(self) -> int | None:
        values = self._values((int,))
        return None if values is None else int(values[0])

    def str_key(self) -> str | None:
        values = self._values((str,))
        return None if values is None else str(values[0])

    def time_and_str_key(self) -> tuple[datetime, str] | None:
        values = self._values((datetime, str))
        return None if values is None else (values[0], values[1])

    def page(
        self, rows: Sequence[RowT], key: Callable[[RowT], Sequence[Any]], item: Callable[[RowT], ItemT]
    ) -> Page[ItemT]:
        """``rows`` were fetched with ``limit + 1``: one more row than shown means there is a next page."""
        shown = rows[: self.limit]
        more = len(rows) > self.limit
        return Page[ItemT](
            items=[item(r) for r in shown], next_cursor=encode_cursor(key(shown[-1])) if more else None
        )


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]
