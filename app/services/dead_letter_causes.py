"""Dead letters grouped by cause: the error code plus the message with its variable parts masked.

Two dead letters share a cause when one fix would cure both: same connection (its configuration is
usually the fix), same error code and the same message once record ids, numbers and quoted values are
masked. Replaying or discarding a group acts on the members a dry run counted (pinned by highest id
and time), never on dead letters that appeared after the operator looked.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories import dead_letters
from app.repositories.dead_letters import DeadRow

NO_MESSAGE = "(no message)"
_MASKS = (
    (re.compile(r"'[^']*'|\"[^\"]*\""), "'…'"),  # quoted values
    (re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"), "<email>"),
    (re.compile(r"\b(?=\w*\d)[A-Za-z0-9_:-]{8,}\b"), "<id>"),  # record ids: long tokens with digits
    (re.compile(r"\b\d+(\.\d+)?\b"), "<n>"),
)
MAX_PATTERN = 200


def message_pattern(message: str | None) -> str:
    """The message with ids, numbers, emails and quoted values masked, so siblings compare equal."""
    if not message:
        return NO_MESSAGE
    text = " ".join(message.split())
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text[:MAX_PATTERN]


def cause_key(connection_id: str | None, error_code: str | None, pattern: str) -> str:
    """A short, stable name for a cause, safe in a URL."""
    raw = "\x1f".join((connection_id or "", error_code or "", pattern))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass
class Cause:
    key: str
    connection_id: str | None
    error_code: str | None
    pattern: str
    example: str | None  # one member's full message
    ids: list[int] = field(default_factory=list)  # newest first
    source_ids: list[str] = field(default_factory=list)  # the records they carried, same order
    operations: set[str] = field(default_factory=set)
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def count(self) -> int:
        return len(self.ids)

    def add(self, row: DeadRow) -> None:
        self.ids.append(row.id)
        self.source_ids.append(row.source_id)
        self.operations.add(row.operation)
        self.first_at = min(self.first_at or row.updated_at, row.updated_at)
        self.last_at = max(self.last_at or row.updated_at, row.updated_at)


def group(rows: list[DeadRow]) -> list[Cause]:
    """Causes, the largest first (then the most recent)."""
    causes: dict[str, Cause] = {}
    for row in rows:
        pattern = message_pattern(row.error)
        key = cause_key(row.connection_id, row.error_code, pattern)
        cause = causes.get(key)
        if cause is None:
            cause = causes[key] = Cause(key, row.connection_id, row.error_code, pattern, row.error)
        cause.add(row)
    return sorted(causes.values(), key=lambda c: (-c.count, -(c.ids[0] if c.ids else 0)))


@dataclass(frozen=True)
class Grouped:
    causes: list[Cause]
    truncated: bool  # more dead letters exist than were grouped


async def causes(session: AsyncSession) -> Grouped:
    rows = await dead_letters.dead_rows(session, limit=dead_letters.MAX_SCANNED + 1)
    truncated = len(rows) > dead_letters.MAX_SCANNED
    return Grouped(group(rows[: dead_letters.MAX_SCANNED]), truncated)


async def members(
    session: AsyncSession, key: str, *, up_to_id: int | None, as_of: datetime | None
) -> Cause | None:
    """The dead letters of one cause, inside the pin when one is given; None when none is left."""
    rows = await dead_letters.dead_rows(session, up_to_id=up_to_id, as_of=as_of)
    return next((c for c in group(rows) if c.key == key), None)
