"""Which records a forced re-sync by filter means ("every activity of study X"): the source system is asked,
by VQL or SOQL, for the ids of the records whose fields equal the values given. A count comes first, so a
filter that matches too much is refused before anything is read or changed."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from app.clients.crm import SalesforceGateway, VaultCrmGateway, safe_name
from app.clients.errors import AuthError, ClientError, TransientError
from app.clients.salesforce import SalesforceClient, soql_quote
from app.clients.vault import VaultClient, vql_quote
from app.models import Connection
from app.services.names import crm_names_for
from app.services.operator_errors import Invalid, Unavailable

MAX_RECORDS = 10_000  # as many as a request may name by id
_NOT_CONFIGURED = frozenset({"CTMS_NOT_CONFIGURED", "MY_DOMAIN_REQUIRED"})
Value = str | int | float | bool


async def ids_matching(
    clients: Any,
    connection: Connection,
    source_system: str,
    source_object: str,
    where: dict[str, Value],
    synced_ctms_objects: Collection[str],
) -> list[str]:
    """The ids of the source's records that match every field = value of `where`. CRM calls count only
    when sent to Vault Clinical (the others are no source of the bridge's); CTMS records only of the
    objects the bridge sends somewhere."""
    try:
        if source_system == "ctms":
            if source_object not in synced_ctms_objects:
                raise Invalid(
                    "RESYNC_OBJECT_UNSUPPORTED",
                    f"a CTMS source is one of {', '.join(sorted(synced_ctms_objects))}, not {source_object}",
                )
            return await _vault_ids(clients.ctms(), source_object, where)
        names = crm_names_for(connection)
        if source_object != names.call.object:
            raise Invalid(
                "RESYNC_OBJECT_UNSUPPORTED",
                f"a CRM source is its call object, {names.call.object}, not {source_object}",
            )
        where = {**where, names.call.fields.sent_to_vault: True}
        gateway = clients.crm(connection)
        if isinstance(gateway, SalesforceGateway):
            return await _salesforce_ids(gateway.client, source_object, where)
        if isinstance(gateway, VaultCrmGateway):
            return await _vault_ids(gateway.client, source_object, where)
        raise TypeError(f"no selection for {type(gateway).__name__}")
    except (TransientError, AuthError) as exc:
        raise Unavailable(
            "SOURCE_UNAVAILABLE", f"the {source_system} could not be asked which records match ({exc.code})"
        ) from None
    except ClientError as exc:
        if exc.code in _NOT_CONFIGURED:
            raise Unavailable(
                "SOURCE_UNAVAILABLE", f"the {source_system} cannot be asked: {exc.message}"
            ) from None
        raise Invalid(
            "RESYNC_FILTER_REJECTED", f"the {source_system} refused the filter: {exc.code}: {exc.message}"
        ) from None


def _condition(where: dict[str, Value], quote: Any) -> str:
    try:
        return " AND ".join(
            f"{safe_name(field)} = {_literal(value, quote)}" for field, value in where.items()
        )
    except ValueError as exc:
        raise Invalid("RESYNC_FILTER_INVALID", str(exc), [("body.where", str(exc))]) from None


def _literal(value: Value, quote: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return str(quote(value))


def _too_many(total: int) -> Invalid:
    return Invalid(
        "RESYNC_TOO_MANY",
        f"{total:,} records match; a re-sync takes at most {MAX_RECORDS:,}: narrow the filter",
    )


async def _vault_ids(client: VaultClient, object_name: str, where: dict[str, Value]) -> list[str]:
    vql = f"SELECT id FROM {safe_name(object_name)} WHERE {_condition(where, vql_quote)}"  # noqa: S608 - names checked, values quoted
    rows, total, more = await client.query_page(vql)
    if (total or 0) > MAX_RECORDS:
        raise _too_many(total or 0)
    if more:
        rows = await client.query(vql)
    if len(rows) > MAX_RECORDS:  # a vault that gave no total
        raise _too_many(len(rows))
    return [str(r["id"]) for r in rows]


async def _salesforce_ids(client: SalesforceClient, object_name: str, where: dict[str, Value]) -> list[str]:
    condition = _condition(where, soql_quote)
    total = await client.count(f"SELECT COUNT() FROM {safe_name(object_name)} WHERE {condition}")  # noqa: S608 - names checked, values quoted
    if total > MAX_RECORDS:
        raise _too_many(total)
    rows = await client.query(f"SELECT Id FROM {safe_name(object_name)} WHERE {condition}")  # noqa: S608 - names checked, values quoted
    return [str(r["Id"]) for r in rows]
