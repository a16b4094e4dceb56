"""The audit log: who changed what, with the state before and after, secrets never included."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEntry
from app.repositories import audit

REDACTED = "[redacted]"
# Snapshots are built from secret-free views already; this is the second line of defence.
_SECRET_KEY = re.compile(r"(secret|password|passwd|token|key_hash|^key$|authorization)", re.IGNORECASE)


def redact(value: Any) -> Any:
    """A copy with every string under a secret-looking key replaced (counts and flags stay readable)."""
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if _SECRET_KEY.search(str(k)) and _is_text(v) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _is_text(value: Any) -> bool:
    return not (value is None or isinstance(value, bool | int | float))


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: str | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor[:255],
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        before=redact(before) if before is not None else None,
        after=redact(after) if after is not None else None,
    )
    return await audit.add(session, entry)
