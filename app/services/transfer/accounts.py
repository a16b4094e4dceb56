"""Account changes seen by the Transfer job: cached person → account matches follow the CRM.

An account re-keyed (its identifier changed), merged (the losing account is deleted, the survivor may
take the identifier) or deleted makes cached matches wrong. Each run asks the CRM which accounts changed
or were deleted since the last run and drops every cached match that names one of them, or one of
their current identifiers; the next delivery for those persons matches afresh (one query per batch).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.clients.crm import SalesforceGateway, VaultCrmGateway, safe_name
from app.domain.dates import format_vault_datetime
from app.domain.names import CrmNames
from app.models import AccountMatch, Connection
from app.services.transfer.catchup import Caught, read_by_platform, salesforce_deleted


def account_key(connection: Connection) -> str:
    return f"crm:{connection.id}:accounts"


async def refresh_account_matches(
    gateway: Any,
    connection: Connection,
    names: CrmNames,
    identifier_field: str,
    sessions: async_sessionmaker[AsyncSession],
    since: datetime,
    now: datetime,
) -> Caught:
    got = Caught(account_key(connection), f"{connection.id}/{names.account.object}", now)
    changed, deleted, covered = await read_by_platform(
        gateway, _salesforce, _vault_crm, names, identifier_field, since, now
    )
    got.until = min(now, covered)
    account_ids = sorted({a for a, _ in changed} | set(deleted))
    identifiers = sorted({v for _, v in changed if v})
    if account_ids or identifiers:
        async with sessions() as session, session.begin():
            await session.execute(
                delete(AccountMatch).where(
                    col(AccountMatch.connection_id) == connection.id,
                    or_(
                        col(AccountMatch.account_id).in_(account_ids),
                        col(AccountMatch.identifier_value).in_(identifiers),
                    ),
                )
            )
    got.seen = len(changed) + len(deleted)
    return got


async def _salesforce(
    gateway: SalesforceGateway, names: CrmNames, identifier: str, since: datetime, now: datetime
) -> tuple[list[tuple[str, str | None]], list[str], datetime]:
    account = names.account
    soql = (
        f"SELECT {safe_name(account.id)}, {safe_name(identifier)} FROM {safe_name(account.object)} "  # noqa: S608 - names checked, no values
        f"WHERE SystemModstamp > {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )
    changed = [(str(r[account.id]), _text(r.get(identifier))) for r in await gateway.client.query(soql)]
    records, covered = await salesforce_deleted(gateway.client, account.object, since, now)
    return changed, [str(d["id"]) for d in records], covered


async def _vault_crm(
    gateway: VaultCrmGateway, names: CrmNames, identifier: str, since: datetime
) -> tuple[list[tuple[str, str | None]], list[str]]:
    account = names.account
    vql = (
        f"SELECT {safe_name(account.id)}, {safe_name(identifier)} FROM {safe_name(account.object)} "  # noqa: S608 - names checked, no values
        f"WHERE modified_date__v > '{format_vault_datetime(since)}'"
    )
    changed = [(str(r[account.id]), _text(r.get(identifier))) for r in await gateway.client.query(vql)]
    gone = await gateway.client.deleted_ids(account.object, since.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return changed, [str(d["id"]) for d in gone]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
