"""Drift: how a target record differs from what the bridge last wrote to it. Pure rules, no I/O.

The systems answer a value in their own spelling: a Vault picklist as a one-element list, a datetime
with milliseconds and another zone notation, a number as text. Two values that mean the same are the
same; only a real difference is a drift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.dates import parse_modified
from app.domain.errors import MappingError

KINDS = (
    "missing_in_target",  # the bridge wrote it; the target no longer has it
    "changed_in_target",  # someone changed fields the bridge wrote (field by field)
    "changed_in_source",  # the source changed after the bridge's last write, and nothing has delivered it
    "deleted_in_source",  # the source is gone; the target still shows it live (or its deletion mark undone)
    "in_target_without_source",  # a record carrying the bridge's external id that no source has
    "unmatched_person",  # waits for a CRM account to match its person
)


def normalized(value: Any) -> Any:
    """One spelling per meaning: single-element lists unwrapped, blank text as None, datetimes in UTC."""
    if isinstance(value, list) and len(value) <= 1:
        value = value[0] if value else None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if len(text) >= 16 and text[4:5] == "-" and "T" in text:
            try:
                return parse_modified(text).replace(microsecond=0)
            except MappingError:
                return text
        return text
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _same(wrote: Any, has: Any) -> bool:
    a, b = normalized(wrote), normalized(has)
    if a == b:
        return True
    if (isinstance(a, (int, float)) and isinstance(b, str)) or (
        isinstance(b, (int, float)) and isinstance(a, str)
    ):
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    return False


def field_drifts(wrote: dict[str, Any], target: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields the bridge wrote whose value in the target now differs: {field, bridge_wrote, target_has}."""
    return [
        {"field": name, "bridge_wrote": value, "target_has": target.get(name)}
        for name, value in sorted(wrote.items())
        if not _same(value, target.get(name))
    ]


def source_is_ahead(source_modified: Any, last_applied: datetime | None) -> bool:
    """The source changed after the version the bridge last applied (to the millisecond: what both keep)."""
    if last_applied is None or source_modified in (None, ""):
        return False
    try:
        modified = parse_modified(
            str(source_modified[0] if isinstance(source_modified, list) else source_modified)
        )
    except MappingError:
        return False
    return _millis(modified) > _millis(last_applied)


def _millis(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)
