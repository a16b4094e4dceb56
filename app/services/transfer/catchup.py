"""Catch-up: ask each system what changed (or was deleted) since the last successful watermark, and feed
it through the webhook path. Whatever a sender never delivered arrives here, at most one run late."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clients.crm import VAULT_READ_CHUNK, SalesforceGateway, VaultCrmGateway, safe_name
from app.clients.errors import AuthError, ClientError, PermanentError
from app.clients.salesforce import soql_quote
from app.clients.vault import VaultClient, vql_quote
from app.domain.ctms import type_name_field
from app.domain.dates import format_vault_datetime, parse_modified
from app.domain.errors import MappingError
from app.domain.names import CrmNames, CtmsNames
from app.models import Connection, GlobalSettings
from app.services.transfer.feed import feed_crm, feed_ctms

A = TypeVar("A")
B = TypeVar("B")
SALESFORCE_MIN_WINDOW = timedelta(minutes=2)  # its updated/deleted windows must span more than a minute
SALESFORCE_MAX_DAYS = 29


@dataclass
class Caught:
    """What one source gave in one run: counted under `label`, moving watermark `key` to `until`."""

    key: str
    label: str
    until: datetime
    seen: int = 0
    event_ids: list[int] = field(default_factory=list)


def ctms_objects(names: CtmsNames, settings: GlobalSettings, sync_sites: bool) -> list[tuple[str, list[str]]]:
    """Objects the CTMS catch-up reads, with the fields their events need."""
    activity = names.activity
    # a vault answers object_type__v with the type's id: ask for its name too, for the echo rule and F1
    type_name = type_name_field(activity.fields.object_type)
    wanted = [(activity.object, [*activity.fields.model_dump().values(), type_name, "created_date__v"])]
    if sync_sites:
        wanted += [(names.study.object, list(names.study.fields.model_dump().values()))]
        wanted += [(names.site.object, list(names.site.fields.model_dump().values()))]
    wanted.append((names.person.object, [names.person.id, "modified_date__v"]))
    if settings.automate_monitoring_events:
        me = names.monitoring_event
        wanted.append((me.object, [*me.fields.model_dump().values(), "created_date__v"]))
    if settings.automate_communication_log_items:
        cl = names.communication_log
        wanted.append((cl.object, [*cl.fields.model_dump().values(), "created_date__v"]))
    return wanted


async def catch_up_ctms(
    ctms: VaultClient,
    sessions: async_sessionmaker[AsyncSession],
    objects: list[tuple[str, list[str]]],
    since: dict[str, datetime],
    now: datetime,
) -> tuple[list[Caught], list[dict[str, str]]]:
    """Each object on its own: one the vault refuses (say, a vault without that object) is reported as an
    error and keeps its watermark; the others are caught up and move on."""
    caught: list[Caught] = []
    errors: list[dict[str, str]] = []
    for object_name, fields in objects:
        start = since[f"ctms:{object_name}"]
        try:
            caught.append(await _catch_up_object(ctms, sessions, object_name, fields, start, now))
        except AuthError as exc:  # the vault itself refuses us: every other object would fail the same way
            errors.append({"source": "ctms", "code": exc.code, "message": exc.message})
            break
        except ClientError as exc:
            source = f"ctms/{object_name}"  # the label its counts go under
            errors.append({"source": source, "object": object_name, "code": exc.code, "message": exc.message})
    return caught, errors


async def _catch_up_object(
    ctms: VaultClient,
    sessions: async_sessionmaker[AsyncSession],
    object_name: str,
    fields: list[str],
    start: datetime,
    now: datetime,
) -> Caught:
    got = Caught(f"ctms:{object_name}", f"ctms/{object_name}", now)
    columns = ", ".join(sorted({safe_name(f) for f in ("id", *fields)}))
    vql = (
        f"SELECT {columns} FROM {safe_name(object_name)} "  # noqa: S608 - names checked, no values
        f"WHERE modified_date__v > '{format_vault_datetime(start)}' ORDER BY modified_date__v ASC"
    )
    rows = await ctms.query(vql)
    deleted = await ctms.deleted_ids(object_name, start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    async with sessions() as session, session.begin():
        for row in rows:
            created = _after(row.get("created_date__v"), start)
            type_ = "ctms.record.created" if created else "ctms.record.updated"
            data = {
                "object": object_name,
                "id": str(row["id"]),
                "modified_date__v": row.get("modified_date__v"),
                "record": row,
            }
            _count(got, await feed_ctms(session, type_, data))
        for gone in deleted:
            data = {
                "object": object_name,
                "id": str(gone["id"]),
                "modified_date__v": deleted_at_the_latest(gone.get("date_deleted")),
            }
            _count(got, await feed_ctms(session, "ctms.record.deleted", data))
    got.seen = len(rows) + len(deleted)
    return got


async def catch_up_crm(
    gateway: Any,
    connection: Connection,
    names: CrmNames,
    identifier_field: str,
    sessions: async_sessionmaker[AsyncSession],
    since: datetime,
    now: datetime,
) -> Caught:
    """Calls sent to Vault Clinical (changed since `since`) and deleted calls of one connection."""
    got = Caught(f"crm:{connection.id}:{names.call.object}", f"{connection.id}/{names.call.object}", now)
    sent, deleted, covered = await read_by_platform(
        gateway, _salesforce, _vault_crm, names, identifier_field, since, now
    )
    got.until = min(now, covered)  # deletions after latestDateCovered come in a later answer
    async with sessions() as session, session.begin():
        for record in sent:
            _count(got, await feed_crm(session, connection.id, "crm.call.sent_to_vault", {"record": record}))
        for call_id, deleted_at in deleted:
            _count(
                got,
                await feed_crm(
                    session,
                    connection.id,
                    "crm.call.deleted",
                    {"Id": call_id, "deleted_at": deleted_at_the_latest(deleted_at)},
                ),
            )
    got.seen = len(sent) + len(deleted)
    return got


async def read_by_platform(
    gateway: Any,
    salesforce: Callable[
        [SalesforceGateway, CrmNames, str, datetime, datetime], Awaitable[tuple[A, B, datetime]]
    ],
    vault_crm: Callable[[VaultCrmGateway, CrmNames, str, datetime], Awaitable[tuple[A, B]]],
    names: CrmNames,
    identifier: str,
    since: datetime,
    now: datetime,
) -> tuple[A, B, datetime]:
    """One CRM source's changes and deletions, read the platform's way, and the time they are covered up
    to (a vault answers up to now; Salesforce's deleted/ may cover less)."""
    if isinstance(gateway, SalesforceGateway):
        return await salesforce(gateway, names, identifier, since, now)
    if isinstance(gateway, VaultCrmGateway):
        changed, deleted = await vault_crm(gateway, names, identifier, since)
        return changed, deleted, now
    raise TypeError(f"no catch-up for {type(gateway).__name__}")


def _relationship(field_name: str) -> str:
    """SOQL names a lookup's parent by its relationship: Account_vod__c → Account_vod__r, AccountId → Account."""
    if field_name.endswith("__c"):
        return field_name[:-3] + "__r"
    return field_name[:-2] if field_name.endswith("Id") else field_name


def salesforce_call_query(names: CrmNames, identifier: str) -> tuple[str, str]:
    """``SELECT … FROM`` the call object with what a Medical Activity needs (its account's identifier and
    its creator through their relationships), and the account relationship's name."""
    call, f = names.call, names.call.fields
    account_rel = _relationship(f.account)
    columns = [
        f.id,
        f.date,
        f.datetime,
        f.channel,
        f.status,
        f.subject,
        f.account,
        f.last_modified,
        f"{account_rel}.{identifier}",
    ]
    columns += [
        f"{f.created_by_relationship}.{c}"
        for c in (names.user.first_name, names.user.last_name, names.user.email)
    ]
    select = f"SELECT {', '.join(safe_name(c) for c in columns)} FROM {safe_name(call.object)}"  # noqa: S608 - names checked, no values
    return select, account_rel


def as_salesforce_call(row: dict[str, Any], names: CrmNames, account_rel: str) -> dict[str, Any]:
    """A SOQL row in the shape of a webhook's call record."""
    f = names.call.fields
    row["attributes"] = {"type": names.call.object}
    account = row.pop(account_rel, None)
    row[f.account_relationship] = {k: v for k, v in (account or {}).items() if k != "attributes"} or None
    if isinstance(row.get(f.created_by_relationship), dict):
        row[f.created_by_relationship].pop("attributes", None)
    return row


async def read_salesforce_calls(
    gateway: SalesforceGateway, names: CrmNames, identifier: str, ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The calls with these ids that are sent to Vault Clinical (thin events: Outbound Messages), read as
    catch-up reads them; by id, 18 characters and 15 (an id may come in either form)."""
    select, account_rel = salesforce_call_query(names, identifier)
    f = names.call.fields
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 200):  # keeps the SOQL well under its length limit
        chunk = ", ".join(soql_quote(i) for i in ids[start : start + 200])
        soql = f"{select} WHERE {safe_name(f.id)} IN ({chunk}) AND {safe_name(f.sent_to_vault)} = true"
        for row in await gateway.client.query(soql):
            record = as_salesforce_call(row, names, account_rel)
            found[str(record[f.id])] = found[str(record[f.id])[:15]] = record
    return found


async def _salesforce(
    gateway: SalesforceGateway, names: CrmNames, identifier: str, since: datetime, now: datetime
) -> tuple[list[dict[str, Any]], list[tuple[str, str]], datetime]:
    """Sent calls by SOQL on SystemModstamp (to the second; the updated/ resource only covers whole past
    minutes), deletions by the deleted/ resource, and the time its answer covers them up to."""
    client, call = gateway.client, names.call
    select, account_rel = salesforce_call_query(names, identifier)
    soql = (
        f"{select} "
        f"WHERE SystemModstamp > {since.strftime('%Y-%m-%dT%H:%M:%SZ')} AND {safe_name(call.fields.sent_to_vault)} = true"
    )
    sent = [as_salesforce_call(row, names, account_rel) for row in await client.query(soql)]
    records, covered = await salesforce_deleted(client, call.object, since, now)
    return sent, [(str(d["id"]), str(d["deletedDate"])) for d in records], covered


async def salesforce_deleted(
    client: Any, object_name: str, since: datetime, now: datetime
) -> tuple[list[dict[str, Any]], datetime]:
    """Records of an object deleted since `since` (the deleted/ resource's window: more than a minute,
    at most 30 days back), and the time the answer covers them up to."""
    start = max(min(since, now - SALESFORCE_MIN_WINDOW), now - timedelta(days=SALESFORCE_MAX_DAYS))
    window = (start.strftime("%Y-%m-%dT%H:%M:%S+00:00"), now.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    answer = await client.deleted(object_name, *window)
    return list(answer.records), covered_until(answer.latest_date_covered, now)


def covered_until(latest: str | None, now: datetime) -> datetime:
    if not latest:
        return now
    try:
        return parse_modified(latest)
    except MappingError:
        raise PermanentError(
            "BAD_RESPONSE", f"salesforce answered latestDateCovered {latest[:40]!r}"
        ) from None


def vault_crm_call_query(names: CrmNames, identifier: str) -> str:
    """``SELECT … FROM`` the Vault CRM call object with what a Medical Activity needs."""
    f = names.call.fields
    columns = [
        f.id,
        f.date,
        f.datetime,
        f.channel,
        f.status,
        f.subject,
        f.account,
        f.last_modified,
        f.created_by,
        f"{f.account_relationship}.{identifier}",
        "created_date__v",
    ]
    user_fields = (names.user.first_name, names.user.last_name, names.user.email)
    columns += [f"{f.created_by_relationship}.{c}" for c in user_fields]  # "From" of the Medical Activity
    return f"SELECT {', '.join(sorted({safe_name(c) for c in columns}))} FROM {safe_name(names.call.object)}"  # noqa: S608 - names checked, no values


def as_vault_crm_call(row: dict[str, Any], names: CrmNames, identifier: str) -> dict[str, Any]:
    """A VQL row in the shape of a webhook's call record: relationships nested, as the webhook has them."""
    f = names.call.fields
    dotted = f"{f.account_relationship}.{identifier}"
    if dotted in row:  # Vault answers relationship fields as dotted keys
        row[f.account_relationship] = {"id": row.get(f.account), identifier: row.pop(dotted)}
    user_fields = (names.user.first_name, names.user.last_name, names.user.email)
    creator = {c: row.pop(f"{f.created_by_relationship}.{c}", None) for c in user_fields}
    if any(v is not None for v in creator.values()):
        row[f.created_by_relationship] = {"id": row.get(f.created_by), **creator}
    return row


async def read_vault_crm_calls(
    gateway: VaultCrmGateway, names: CrmNames, identifier: str, ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The Vault CRM calls with these ids that are sent to Vault Clinical, read as catch-up reads them:
    one VQL query per 1,000 ids (VQL is POSTed)."""
    f = names.call.fields
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), VAULT_READ_CHUNK):
        chunk = ", ".join(vql_quote(i) for i in ids[start : start + VAULT_READ_CHUNK])
        vql = (
            f"{vault_crm_call_query(names, identifier)} "
            f"WHERE {safe_name(f.id)} CONTAINS ({chunk}) AND {safe_name(f.sent_to_vault)} = true"
        )
        for row in await gateway.client.query(vql):
            record = as_vault_crm_call(row, names, identifier)
            found[str(record[f.id])] = record
    return found


async def _vault_crm(
    gateway: VaultCrmGateway, names: CrmNames, identifier: str, since: datetime
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    client, call = gateway.client, names.call
    vql = (
        f"{vault_crm_call_query(names, identifier)} "
        f"WHERE modified_date__v > '{format_vault_datetime(since)}' AND {safe_name(call.fields.sent_to_vault)} = true"
    )
    sent = [as_vault_crm_call(row, names, identifier) for row in await client.query(vql)]
    deleted = [
        (str(d["id"]), str(d["date_deleted"]))
        for d in await client.deleted_ids(call.object, since.strftime("%Y-%m-%dT%H:%M:%SZ"))
    ]
    return sent, deleted


def deleted_at_the_latest(value: Any) -> Any:
    """Vault's and Salesforce's deletion lists give whole seconds (``…T20:17:17.000Z``), while changes carry
    milliseconds. A deletion stamped to the second happened at some time in that second, after every change
    of the record: it is dated the end of its second, so a change earlier in the same second cannot make it
    look stale (latest wins)."""
    try:
        at = parse_modified(str(value))
    except MappingError:
        return value
    if at.microsecond:
        return value
    return (at + timedelta(milliseconds=999)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _after(value: Any, start: datetime) -> bool:
    try:
        return bool(value) and parse_modified(str(value[0] if isinstance(value, list) else value)) > start
    except MappingError:
        return False


def _count(got: Caught, stored: tuple[int, bool]) -> None:
    event_id, new = stored
    if new:
        got.event_ids.append(event_id)
