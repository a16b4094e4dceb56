"""Configuring CRM connections: create, change, (de)activate, delete, rotate webhook secrets.

Every change is audited with secret-free views. Secrets are sealed with the bridge's key before they
touch the session. Changing which identifier pair a connection matches persons by drops its cached
matches, so no delivery goes to an account found through the old identifier.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import SecretBox
from app.domain.mapping.accounts import AccountMatch, effective_account_match
from app.domain.vocabulary import Platform
from app.logging import get_logger
from app.models import Connection, utcnow
from app.repositories import connections, deliveries_replay
from app.services import audit
from app.services.connection_settings import (
    check_account_match,
    check_crm,
    check_object_names,
    view,
    webhook_secrets,
)
from app.services.operator_errors import Conflict, Invalid, NotFound
from app.signing import generate_secret, is_valid_secret

log = get_logger(__name__)
MAX_WEBHOOK_SECRETS = 5  # rotation needs two; more means old ones were never retired


@dataclass(frozen=True)
class NewConnection:
    name: str
    platform: Platform
    crm: Mapping[str, Any]
    webhook_secret: str | None
    account_match: Mapping[str, Any] | None
    sync_studies_and_sites: bool
    object_names: Mapping[str, Any]
    active: bool


def _check_webhook_secret(secret: str) -> str:
    if not is_valid_secret(secret):
        raise Invalid(
            "WEBHOOK_SECRET_INVALID",
            "webhook_secret must be 'whsec_' followed by base64 of at least 16 bytes; omit it to have one generated",
            [("webhook_secret", "not a whsec_ secret")],
        )
    return secret


async def get(session: AsyncSession, connection_id: str) -> Connection:
    connection = await connections.get(session, connection_id)
    if connection is None:
        raise NotFound("CONNECTION_NOT_FOUND", f"no connection with id {connection_id}")
    return connection


async def _effective_pair(session: AsyncSession, connection: Connection) -> dict[str, Any]:
    if connection.account_match:
        return dict(connection.account_match)
    row = await connections.global_settings(session)
    global_pair = AccountMatch(
        ctms_person_field=row.ctms_person_field, crm_account_field=row.crm_account_field
    )
    return effective_account_match(global_pair, None, connection.platform).model_dump()


async def account_match_of(session: AsyncSession, connection: Connection) -> AccountMatch:
    """The identifier pair this connection matches persons by: its own, else the global one."""
    return AccountMatch.model_validate(await _effective_pair(session, connection))


async def _flush_unique_name(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("CONNECTION_NAME_TAKEN", f"another connection is already named {name!r}") from None


async def create(
    session: AsyncSession, box: SecretBox, data: NewConnection, *, actor: str
) -> tuple[Connection, str | None]:
    """The new connection, and its webhook secret when the bridge generated it (shown once)."""
    public, secrets = check_crm(data.platform, data.crm)
    object_names = check_object_names(data.platform, data.object_names)
    account_match = check_account_match(data.account_match)
    generated = None if data.webhook_secret else generate_secret()
    secret = _check_webhook_secret(data.webhook_secret) if data.webhook_secret else generated
    if await connections.by_name(session, data.name) is not None:
        raise Conflict("CONNECTION_NAME_TAKEN", f"another connection is already named {data.name!r}")
    connection = Connection(
        id=f"conn_{uuid.uuid4().hex[:12]}",
        name=data.name,
        platform=data.platform,
        crm=public,
        secrets_encrypted=box.seal(secrets),
        webhook_secrets_encrypted=box.seal([secret]),
        account_match=account_match,
        sync_studies_and_sites=data.sync_studies_and_sites,
        object_names=object_names,
        active=data.active,
    )
    session.add(connection)
    await _flush_unique_name(session, data.name)
    await audit.record(
        session,
        actor=actor,
        action="connection.create",
        resource_type="connection",
        resource_id=connection.id,
        after=view(connection, box),
    )
    log.info("connection_created", connection_id=connection.id, platform=connection.platform)
    return connection, generated


async def update(
    session: AsyncSession, box: SecretBox, connection_id: str, changes: Mapping[str, Any], *, actor: str
) -> Connection:
    """Apply the keys present in ``changes``; ``crm`` is merged key by key, the rest replace."""
    connection = await get(session, connection_id)
    before = view(connection, box)
    pair_before = await _effective_pair(session, connection)
    platform: Platform = "vault" if connection.platform == "vault" else "salesforce"
    if "crm" in changes:
        stored = {**connection.crm, **(box.open(connection.secrets_encrypted) or {})}
        public, secrets = check_crm(platform, {**stored, **dict(changes["crm"] or {})})
        connection.crm, connection.secrets_encrypted = public, box.seal(secrets)
    if "object_names" in changes:
        connection.object_names = check_object_names(platform, changes["object_names"] or {})
    if "account_match" in changes:
        connection.account_match = check_account_match(changes["account_match"])
    if changes.get("webhook_secret"):
        # replaces every secret at once; POST …/webhook-secrets adds one beside the old for rotation
        connection.webhook_secrets_encrypted = box.seal([_check_webhook_secret(changes["webhook_secret"])])
    for key in ("name", "sync_studies_and_sites", "active"):
        if key in changes and changes[key] is not None:
            setattr(connection, key, changes[key])
    connection.updated_at = utcnow()
    await _flush_unique_name(session, connection.name)
    forgotten = 0
    if await _effective_pair(session, connection) != pair_before:
        forgotten = await connections.forget_account_matches(session, [connection.id])
    after = view(connection, box)
    await _audit_change(session, actor, "connection.update", before, after, forgotten)
    return connection


async def _audit_change(
    session: AsyncSession,
    actor: str,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    forgotten_matches: int = 0,
) -> None:
    if forgotten_matches:
        after = {**after, "account_matches_forgotten": forgotten_matches}
    await audit.record(
        session,
        actor=actor,
        action=action,
        resource_type="connection",
        resource_id=str(before["id"]),
        before=before,
        after=after,
    )


async def set_active(
    session: AsyncSession, box: SecretBox, connection_id: str, active: bool, *, actor: str
) -> Connection:
    """Activating twice changes nothing and audits nothing."""
    connection = await get(session, connection_id)
    if connection.active == active:
        return connection
    before = view(connection, box)
    connection.active = active
    connection.updated_at = utcnow()
    await session.flush()
    action = "connection.activate" if active else "connection.deactivate"
    await _audit_change(session, actor, action, before, view(connection, box))
    log.info("connection_activation_changed", connection_id=connection.id, active=active)
    return connection


async def forget_account_matches(session: AsyncSession, connection_id: str, *, actor: str) -> int:
    """Drop every cached person → account match of a connection (after a re-keying or a mass merge in
    the CRM): each person is matched afresh by its next delivery. Returns how many were dropped."""
    connection = await get(session, connection_id)
    dropped = await connections.forget_account_matches(session, [connection.id])
    await audit.record(
        session,
        actor=actor,
        action="connection.forget_account_matches",
        resource_type="connection",
        resource_id=connection.id,
        after={"dropped": dropped},
    )
    log.info("account_matches_forgotten", connection_id=connection.id, dropped=dropped)
    return dropped


async def delete(session: AsyncSession, box: SecretBox, connection_id: str, *, actor: str) -> int:
    """Delete an inactive connection; its waiting deliveries are discarded. Returns how many."""
    connection = await get(session, connection_id)
    if connection.active:
        raise Conflict("CONNECTION_ACTIVE", "deactivate the connection before deleting it")
    before = view(connection, box)
    discarded = await deliveries_replay.discard_waiting_for_connection(session, connection.id, utcnow())
    await connections.forget_account_matches(session, [connection.id])
    await connections.remove(session, connection)
    await audit.record(
        session,
        actor=actor,
        action="connection.delete",
        resource_type="connection",
        resource_id=connection_id,
        before=before,
        after={"deliveries_discarded": discarded},
    )
    log.info("connection_deleted", connection_id=connection_id, deliveries_discarded=discarded)
    return discarded


async def add_webhook_secret(
    session: AsyncSession, box: SecretBox, connection_id: str, secret: str | None, *, actor: str
) -> tuple[Connection, str | None]:
    """Add a secret beside the current ones (both verify until the old are retired)."""
    connection = await get(session, connection_id)
    current = webhook_secrets(box, connection)
    if len(current) >= MAX_WEBHOOK_SECRETS:
        raise Conflict(
            "TOO_MANY_WEBHOOK_SECRETS",
            f"a connection holds at most {MAX_WEBHOOK_SECRETS} webhook secrets; retire the previous ones first",
        )
    generated = None if secret else generate_secret()
    new = _check_webhook_secret(secret) if secret else generated
    before = view(connection, box)
    connection.webhook_secrets_encrypted = box.seal([*current, new])
    connection.updated_at = utcnow()
    await session.flush()
    await _audit_change(session, actor, "connection.webhook_secret.add", before, view(connection, box))
    return connection, generated


async def retire_previous_webhook_secrets(
    session: AsyncSession, box: SecretBox, connection_id: str, *, actor: str
) -> Connection:
    """Keep only the newest webhook secret: the last step of a rotation."""
    connection = await get(session, connection_id)
    current = webhook_secrets(box, connection)
    if len(current) <= 1:
        return connection
    before = view(connection, box)
    connection.webhook_secrets_encrypted = box.seal(current[-1:])
    connection.updated_at = utcnow()
    await session.flush()
    await _audit_change(session, actor, "connection.webhook_secret.retire", before, view(connection, box))
    return connection
