"""SQL for record links (where a source record went) and cached person ↔ account matches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import AccountMatch, RecordLink, utcnow
from app.repositories.rows import LINK_COLUMNS, LinkRow, core_execute

_LINKS = RecordLink.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table classes


async def get_many(
    session: AsyncSession, connection_id: str, source_system: str, source_object: str, ids: Iterable[str]
) -> dict[str, LinkRow]:
    """The links of these records, as plain rows (a batch reads hundreds: app/repositories/rows.py)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    stmt = core_select(*LINK_COLUMNS).where(
        _LINKS.c.connection_id == connection_id,
        _LINKS.c.source_system == source_system,
        _LINKS.c.source_object == source_object,
        _LINKS.c.source_id.in_(wanted),
    )
    rows = await core_execute(session, stmt)
    return {link.source_id: link for link in (LinkRow(*row) for row in rows)}


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def save(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert or update one link (keyed by connection, source system, object and id)."""
    values = {"updated_at": utcnow(), **values}
    key = ["connection_id", "source_system", "source_object", "source_id"]
    stmt = _insert(session)(RecordLink).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=key, set_={k: stmt.excluded[k] for k in values if k not in key}
    )
    await session.execute(stmt)


LINK_KEY = ("connection_id", "source_system", "source_object", "source_id")


_INSERT_DEFAULTS: dict[str, Any] = {"last_fields": {}, "deleted": False}


async def save_many(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> None:
    """Insert or update many links: one multi-row statement per shape of row (a deletion mark carries no
    content hash, so it keeps the one stored). The last row of a key wins."""
    now = utcnow()
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        latest[tuple(row[k] for k in LINK_KEY)] = {"updated_at": now, **row}
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in latest.values():
        shapes.setdefault(tuple(sorted(row)), []).append(row)
    for shape, group in shapes.items():
        stmt = _insert(session)(_LINKS)  # the table, not the model: a Core executemany, no ORM bulk path
        stmt = stmt.on_conflict_do_update(
            index_elements=list(LINK_KEY), set_={k: stmt.excluded[k] for k in shape if k not in LINK_KEY}
        )
        # Core skips the model's Python defaults: a first-time tombstone still needs its NOT NULL
        # columns, while an existing link keeps what it has (only `shape` is updated on conflict).
        await session.execute(stmt, [{**_INSERT_DEFAULTS, **row} for row in group])


async def find(
    session: AsyncSession, system: str | None, object_: str | None, source_id: str | None
) -> list[RecordLink]:
    stmt = select(RecordLink)
    if system:
        stmt = stmt.where(col(RecordLink.source_system) == system)
    if object_:
        stmt = stmt.where(col(RecordLink.source_object) == object_)
    if source_id:
        stmt = stmt.where(col(RecordLink.source_id) == source_id)
    return list((await session.execute(stmt.order_by(col(RecordLink.id)))).scalars())


async def cached_accounts(
    session: AsyncSession, connection_id: str, person_ids: Iterable[str]
) -> dict[str, AccountMatch]:
    wanted = sorted(set(person_ids))
    if not wanted:
        return {}
    stmt = select(AccountMatch).where(
        col(AccountMatch.connection_id) == connection_id, col(AccountMatch.person_id).in_(wanted)
    )
    return {m.person_id: m for m in (await session.execute(stmt)).scalars()}


async def remember_accounts(
    session: AsyncSession, connection_id: str, matches: dict[str, tuple[str, str]]
) -> None:
    """person id → (identifier value, account id)."""
    for person_id, (identifier, account_id) in matches.items():
        values = {
            "connection_id": connection_id,
            "person_id": person_id,
            "identifier_value": identifier,
            "account_id": account_id,
            "matched_at": utcnow(),
        }
        stmt = _insert(session)(AccountMatch).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["connection_id", "person_id"],
            set_={
                "identifier_value": identifier,
                "account_id": account_id,
                "matched_at": values["matched_at"],
            },
        )
        await session.execute(stmt)


async def forget_person_accounts(session: AsyncSession, connection_id: str, person_ids: Iterable[str]) -> int:
    """Drop the cached matches of these persons in one connection: the CRM says the account is gone."""
    wanted = sorted(set(person_ids))
    if not wanted:
        return 0
    result = await session.execute(
        delete(AccountMatch).where(
            col(AccountMatch.connection_id) == connection_id, col(AccountMatch.person_id).in_(wanted)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def forget_accounts(session: AsyncSession, connection_id: str | None = None) -> None:
    """Drop cached matches (all, or one connection's): the identifier they were made with changed."""
    stmt = delete(AccountMatch)
    if connection_id is not None:
        stmt = stmt.where(col(AccountMatch.connection_id) == connection_id)
    await session.execute(stmt)
