"""Object types by API name. A vault answers a record's ``object_type__v`` with the type's id (such as
``OOT00000002E002``) and takes an id on writes; the bridge thinks in API names (``medical_activity__v``).
Each vault's id ↔ name table is read once with VQL on ``object_type__v`` and remembered for a while (types
are configuration: they almost never change); an id we do not know re-reads it once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from app.clients.errors import PermanentError
from app.clients.vault import VaultClient, vql_quote
from app.domain.ctms import type_name_field
from app.domain.upsert import TargetUpsert

REMEMBER_SECONDS = 600.0
# (vault base URL, object) -> (when it expires, type id -> API name)
_remembered: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}


async def type_names(ctms: VaultClient, object_name: str, *, fresh: bool = False) -> dict[str, str]:
    """The object's types: id -> API name."""
    key = (ctms.base_url, object_name)
    entry = _remembered.get(key)
    now = time.monotonic()
    if entry is not None and entry[0] > now and not fresh:
        return entry[1]
    vql = f"SELECT id, api_name__v FROM object_type__v WHERE object_name__v = {vql_quote(object_name)}"  # noqa: S608 - the value is quoted
    rows = await ctms.query(vql)
    names = {str(r["id"]): str(r["api_name__v"]) for r in rows if r.get("id") and r.get("api_name__v")}
    _remembered[key] = (now + REMEMBER_SECONDS, names)
    return names


async def type_id(ctms: VaultClient, object_name: str, api_name: str) -> str:
    """The id of the object's type ``api_name``; a vault without that type is a configuration error."""
    for fresh in (False, True):
        ids = {name: i for i, name in (await type_names(ctms, object_name, fresh=fresh)).items()}
        if api_name in ids:
            return ids[api_name]
    raise PermanentError("OBJECT_TYPE_MISSING", f"the vault has no object type {api_name} on {object_name}")


async def name_types(
    ctms: VaultClient,
    object_name: str,
    records: Iterable[dict[str, Any] | None],
    known: Iterable[str],
    *,
    field: str = "object_type__v",
) -> None:
    """Give each record whose type came as an id its name, in place, as VQL would answer it
    (``object_type__vr.api_name__v``); records that carry a name already (``known``) are left alone."""
    names_field, known = type_name_field(field), set(known)
    pending = [
        r
        for r in records
        if r
        and names_field not in r
        and isinstance(_one(r.get(field)), str)
        and _one(r.get(field)) not in known
    ]
    if not pending:
        return
    names = await type_names(ctms, object_name)
    if any(_one(r.get(field)) not in names for r in pending):
        names = await type_names(ctms, object_name, fresh=True)  # a type added since we last read them
    for r in pending:
        name = names.get(str(_one(r.get(field))))
        if name is not None:
            r[names_field] = name


async def with_type_ids(
    ctms: VaultClient, upserts: list[TargetUpsert], *, object_name: str, field: str = "object_type__v"
) -> list[TargetUpsert]:
    """The writes with their object type given by id, as a vault takes it (the mapping names it)."""
    out = []
    for upsert in upserts:
        value = upsert.fields.get(field)
        # a name, not an id already
        if (
            upsert.object == object_name
            and isinstance(value, str)
            and value not in await type_names(ctms, object_name)
        ):
            value = await type_id(ctms, object_name, value)
            upsert = upsert.model_copy(update={"fields": {**upsert.fields, field: value}})
        out.append(upsert)
    return out


def _one(value: object) -> object:
    return value[0] if isinstance(value, list) and len(value) == 1 else value
