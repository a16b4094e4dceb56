"""One face for both CRM platforms: the delivery engine writes and looks up accounts the same way for a
Veeva CRM org on Salesforce and for a Vault CRM vault."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

from app.clients.results import WriteResult
from app.clients.salesforce import MAX_BATCH as SALESFORCE_BATCH
from app.clients.salesforce import SalesforceClient, soql_quote
from app.clients.vault import MAX_BATCH as VAULT_BATCH
from app.clients.vault import VaultClient, vql_quote

IN_CHUNK = 100  # values per IN (...) clause: keeps query strings well under URL limits
SALESFORCE_READ_CHUNK = 200  # ids per SOQL read by id: ~4 KB of ids, well inside a GET's URL
VAULT_READ_CHUNK = 1000  # ids per VQL read by id: VQL is POSTed, so only a page's size bounds it
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")


def safe_name(name: str) -> str:
    """Object and field names go into queries unquoted: accept only identifiers."""
    if not _NAME.match(name):
        raise ValueError(f"not an object or field name: {name[:60]!r}")
    return name


def chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class CrmGateway(Protocol):
    max_batch: int
    target: str

    async def upsert(self, object_name: str, id_field: str, records: list[dict[str, Any]]) -> WriteResult: ...

    async def find_by_field(self, object_name: str, field: str, values: list[str]) -> dict[str, list[str]]:
        """Record ids per value of a field (several ids for one value: ambiguous)."""
        ...

    async def read_field(self, object_name: str, field: str, ids: list[str]) -> dict[str, str | None]:
        """One field of several records by id."""
        ...

    async def read_records(
        self, object_name: str, fields: Iterable[str], ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        """Records by id with these fields, in as few calls as the platform allows; absent ids are gone."""
        ...

    async def describe(self, object_name: str) -> dict[str, Any] | None: ...


class SalesforceGateway:
    max_batch = SALESFORCE_BATCH

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client
        self.target = client.target

    async def upsert(self, object_name: str, id_field: str, records: list[dict[str, Any]]) -> WriteResult:
        return await self.client.upsert(object_name, id_field, records)

    async def find_by_field(self, object_name: str, field: str, values: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for part in chunks(sorted(set(values)), IN_CHUNK):
            soql = f"SELECT Id, {safe_name(field)} FROM {safe_name(object_name)} WHERE {safe_name(field)} IN ({', '.join(map(soql_quote, part))})"
            for row in await self.client.query(soql):
                found[str(row.get(field))].append(str(row["Id"]))
        return dict(found)

    async def read_field(self, object_name: str, field: str, ids: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for part in chunks(sorted(set(ids)), IN_CHUNK):
            soql = f"SELECT Id, {safe_name(field)} FROM {safe_name(object_name)} WHERE Id IN ({', '.join(map(soql_quote, part))})"
            for row in await self.client.query(soql):
                value = row.get(field)
                out[str(row["Id"])] = None if value is None else str(value)
        return out

    async def read_records(
        self, object_name: str, fields: Iterable[str], ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        columns = ", ".join(safe_name(c) for c in sorted({"Id", *fields}))
        found: dict[str, dict[str, Any]] = {}
        for part in chunks(sorted({i for i in ids if i}), SALESFORCE_READ_CHUNK):
            soql = f"SELECT {columns} FROM {safe_name(object_name)} WHERE Id IN ({', '.join(map(soql_quote, part))})"
            for row in await self.client.query(soql):
                found[str(row["Id"])] = row
        return found

    async def describe(self, object_name: str) -> dict[str, Any] | None:
        return await self.client.describe(object_name)


class VaultCrmGateway:
    max_batch = VAULT_BATCH

    def __init__(self, client: VaultClient) -> None:
        self.client = client
        self.target = client.target

    async def upsert(self, object_name: str, id_field: str, records: list[dict[str, Any]]) -> WriteResult:
        return await self.client.upsert(object_name, records, id_field)

    async def find_by_field(self, object_name: str, field: str, values: list[str]) -> dict[str, list[str]]:
        return await vault_find_by_field(self.client, object_name, field, values)

    async def read_field(self, object_name: str, field: str, ids: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for row in (await vault_read_by_ids(self.client, object_name, [field], ids)).values():
            value = row.get(field)
            out[str(row["id"])] = None if value is None else str(value)
        return out

    async def read_records(
        self, object_name: str, fields: Iterable[str], ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        return await vault_read_by_ids(self.client, object_name, fields, ids, size=VAULT_READ_CHUNK)

    async def describe(self, object_name: str) -> dict[str, Any] | None:
        return await self.client.describe(object_name)


async def vault_find_by_field(
    client: VaultClient, object_name: str, field: str, values: list[str]
) -> dict[str, list[str]]:
    """Vault record ids per value of a field, one VQL query per 100 values."""
    found: dict[str, list[str]] = defaultdict(list)
    for part in chunks(sorted(set(values)), IN_CHUNK):
        vql = f"SELECT id, {safe_name(field)} FROM {safe_name(object_name)} WHERE {safe_name(field)} CONTAINS ({', '.join(map(vql_quote, part))})"
        for row in await client.query(vql):
            found[str(row.get(field))].append(str(row["id"]))
    return dict(found)


async def vault_read_by_ids(
    client: VaultClient,
    object_name: str,
    fields: Iterable[str],
    ids: Iterable[str],
    *,
    size: int = IN_CHUNK,
) -> dict[str, dict[str, Any]]:
    """Vault records by id, one VQL query per `size` ids; ids that do not exist are absent."""
    columns = sorted({"id", *fields})
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted({i for i in ids if i}), size):
        vql = f"SELECT {', '.join(safe_name(c) for c in columns)} FROM {safe_name(object_name)} WHERE id CONTAINS ({', '.join(map(vql_quote, part))})"
        for row in await client.query(vql):
            found[str(row.get("id"))] = row
    return found
