"""Reading everything that exists, page by page, from a cursor that survives a crash.

Vault (CTMS and Vault CRM): keyset on (``created_date__v``, ``id``) — a record's creation time never
changes, so a page read later starts exactly after the last row taken. Rows created in the same
millisecond are told apart by ``PAGEOFFSET`` counted from that time. Salesforce: keyset on ``Id``, which
SOQL compares and sorts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.clients.crm import safe_name
from app.clients.salesforce import soql_quote
from app.clients.vault import VaultClient, vql_quote
from app.domain.dates import format_vault_datetime

VAULT_PAGE = 1000  # the largest page a vault answers
SALESFORCE_PAGE = 2000  # one query batch


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int | None  # how many the source counted (first page only)
    after: str | None
    offset: int
    done: bool


async def vault_page(
    client: VaultClient,
    select: str,
    conditions: list[str],
    since: datetime | None,
    after: str | None,
    offset: int,
    size: int = VAULT_PAGE,
) -> Page:
    """The next page after (`after`, `offset`) of ``select`` (a ``SELECT … FROM`` with created_date__v)."""
    where = list(conditions)
    if since is not None:
        where.append(f"modified_date__v >= '{format_vault_datetime(since)}'")
    if after is not None:
        where.append(f"created_date__v >= {vql_quote(after)}")
    vql = select
    if where:
        vql += " WHERE " + " AND ".join(where)
    vql += f" ORDER BY created_date__v ASC, id ASC PAGESIZE {size} PAGEOFFSET {offset if after else 0}"
    rows, total, more = await client.query_page(vql)
    if not rows:
        return Page([], total, after, offset, True)
    last = str(rows[-1].get("created_date__v") or "")
    if last == after:
        new_offset = offset + len(rows)
    else:
        new_offset = sum(1 for r in rows if str(r.get("created_date__v") or "") == last)
    # done when the vault says no page follows (a short page alone is no proof of the last)
    return Page(rows, total if after is None else None, last, new_offset, not more)


async def salesforce_page(
    client: Any,
    select: str,
    object_name: str,
    conditions: list[str],
    since: datetime | None,
    after: str | None,
    size: int = SALESFORCE_PAGE,
) -> Page:
    """The next page of ``select`` after Id `after`; the first page also counts the whole set."""
    where = _salesforce_where(conditions, since)
    total = None
    if after is None:
        total = await salesforce_count(client, object_name, conditions, since)
    else:
        where.append(f"Id > {soql_quote(after)}")
    soql = select + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY Id ASC LIMIT {size}"
    rows = await client.query(soql)
    last = str(rows[-1]["Id"]) if rows else after
    return Page(rows, total, last, 0, len(rows) < size)


def _salesforce_where(conditions: list[str], since: datetime | None) -> list[str]:
    where = list(conditions)
    if since is not None:
        where.append(f"SystemModstamp >= {since.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    return where


async def salesforce_count(
    client: Any, object_name: str, conditions: list[str], since: datetime | None
) -> int:
    """How many records a Salesforce page set holds (``SELECT COUNT()``)."""
    where = _salesforce_where(conditions, since)
    counting = f"SELECT COUNT() FROM {safe_name(object_name)}"  # noqa: S608 - names checked
    return int(await client.count(counting + (" WHERE " + " AND ".join(where) if where else "")))


async def vault_count(
    client: VaultClient, select: str, conditions: list[str], since: datetime | None
) -> int | None:
    """How many records a Vault page set holds: the total of a one-row page."""
    return (await vault_page(client, select, conditions, since, None, 0, size=1)).total
