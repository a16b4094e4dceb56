"""Timestamps as the two platforms write them, read into aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Salesforce writes "+0000"; Python wants "+00:00".
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 in Vault ("2026-11-20T10:14:58.000Z") or Salesforce ("...000+0000") style; naive means UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _COMPACT_OFFSET.sub(r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {value[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
