"""Salesforce wire formats: record ids and timestamps.

Ids are 15 case-sensitive characters plus a 3-character suffix that encodes which of them are upper case,
so that the 18-character form survives case-insensitive systems. Datetimes have second precision and are
written as ``2026-11-20T10:14:59.000+0000``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_SHAPE = re.compile(r"[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?")
_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_SHAPE = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)(?:\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?"
)


def id_suffix(id15: str) -> str:
    """The 3 characters that make a 15-character id case-insensitive."""
    letters = []
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if "A" <= ch <= "Z")
        letters.append(_SUFFIX_ALPHABET[bits])
    return "".join(letters)


def normalize_id(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None if ``value`` is not an id."""
    if not _ID_SHAPE.fullmatch(value):
        return None
    if len(value) == 15:
        return value + id_suffix(value)
    return value if value[15:] == id_suffix(value[:15]) else None


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


@dataclass
class IdFactory:
    """Hands out 18-character ids: key prefix, a fixed instance part, then an org-wide counter."""

    instance: str = "5g"
    next_number: int = 2_000_000  # begin mid-range so ids carry letters, as real ones do

    def new(self, key_prefix: str) -> str:
        number = self.next_number
        self.next_number += 1
        id15 = key_prefix + self.instance + _base62(number, 10)
        return id15 + id_suffix(id15)


def utc_now() -> datetime:
    return datetime.now(UTC)


def truncate_seconds(moment: datetime) -> datetime:
    """Salesforce keeps datetimes to the second."""
    return moment.astimezone(UTC).replace(microsecond=0)


def format_datetime(moment: datetime) -> str:
    return truncate_seconds(moment).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def parse_datetime(text: str) -> datetime | None:
    """Parse the ISO-8601 forms Salesforce accepts; a value without an offset is UTC."""
    match = _DATETIME_SHAPE.fullmatch(text.strip())
    if match is None:
        return None
    day, clock, offset = match.groups()
    if len(clock) == 5:
        clock += ":00"
    if offset is None or offset == "Z":
        offset = "+00:00"
    elif ":" not in offset:
        offset = offset[:3] + ":" + offset[3:]
    try:
        return datetime.fromisoformat(f"{day}T{clock}{offset}").astimezone(UTC)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    if not _DATE_SHAPE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
