"""Operator API keys: made once and shown once, stored as a SHA-256 hash, checked on every request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiKey, utcnow
from app.repositories import api_keys
from app.services import audit
from app.services.operator_errors import Conflict, NotFound, Unauthenticated

KEY_PREFIX = "brk_"  # recognisable in configs and secret scanners
DISPLAY_CHARS = 12
BOOTSTRAP_ACTOR = "bootstrap-admin"
TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is informative: a write per minute per key is plenty


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Caller:
    """Who is calling: the audit log's actor and the role that decides what they may do."""

    actor: str
    role: Role
    key_id: str | None


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def view(key: ApiKey) -> dict[str, Any]:
    """The key as lists and the audit log show it: never the key or its hash."""
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "prefix": key.prefix,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
    }


async def create(session: AsyncSession, *, name: str, role: Role, actor: str) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which the caller shows once and the bridge never stores."""
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=f"key_{uuid.uuid4().hex[:12]}",
        name=name,
        role=role.value,
        prefix=plaintext[:DISPLAY_CHARS],
        key_hash=hash_key(plaintext),
    )
    await api_keys.add(session, key)
    await audit.record(
        session,
        actor=actor,
        action="api_key.create",
        resource_type="api_key",
        resource_id=key.id,
        after=view(key),
    )
    return key, plaintext


FIRST_KEY_ACTOR = "cli:api-keys create --bootstrap"


async def create_first_admin(session: AsyncSession, *, name: str) -> tuple[ApiKey, str]:
    """The first admin key, made straight in the database by someone who can reach it (no API key can
    exist yet to ask the API with). Refused once an admin key exists: from then on, keys come from
    the API, with an admin's key and the audit trail that names them."""
    if await api_keys.active_admin_count(session):
        raise Conflict(
            "ADMIN_KEY_EXISTS",
            "an admin API key already exists: create further keys with it (bridge api-keys create --api-key …)",
        )
    return await create(session, name=name, role=Role.ADMIN, actor=FIRST_KEY_ACTOR)


async def revoke(session: AsyncSession, key_id: str, *, actor: str) -> ApiKey:
    """Revoked keys stop working at once; revoking twice changes nothing and logs nothing."""
    key = await api_keys.get(session, key_id)
    if key is None:
        raise NotFound("API_KEY_NOT_FOUND", f"no API key with id {key_id}")
    if key.revoked_at is None:
        before = view(key)
        key.revoked_at = utcnow()
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="api_key.revoke",
            resource_type="api_key",
            resource_id=key.id,
            before=before,
            after=view(key),
        )
    return key


def _is_bootstrap(presented: str, bootstrap: str | None) -> bool:
    if not bootstrap:
        return False
    return hmac.compare_digest(presented.encode(), bootstrap.encode())


async def authenticate(session: AsyncSession, presented: str, *, bootstrap: str | None) -> Caller:
    """The caller behind a presented key; flushes a last-used time at most once a minute per key."""
    if _is_bootstrap(presented, bootstrap):
        return Caller(actor=BOOTSTRAP_ACTOR, role=Role.ADMIN, key_id=None)
    key = await api_keys.by_hash(session, hash_key(presented))
    if key is None:
        raise Unauthenticated("API_KEY_INVALID", "the API key is not known to this bridge")
    if key.revoked_at is not None:
        raise Unauthenticated(
            "API_KEY_REVOKED", f"API key {key.prefix}… was revoked; ask an admin for a new one"
        )
    now = utcnow()
    if key.last_used_at is None or key.last_used_at < now - TOUCH_EVERY:
        await api_keys.touch(session, key.id, now, now - TOUCH_EVERY)
    return Caller(actor=f"api-key:{key.id} ({key.name})", role=Role(key.role), key_id=key.id)
