"""Dates and timestamps as Vault and Salesforce write them, parsed strictly.

- Dates are calendar dates, ``YYYY-MM-DD`` on both platforms; past, present and future are all valid.
- Timestamps must carry an offset: Vault writes ``2026-11-20T10:14:58.000Z``, Salesforce
  ``2026-11-19T23:30:00.000+0000``. A timestamp without one is rejected, never assumed to be UTC.
- Parsed timestamps are aware and in UTC, so "latest wins" comparisons never mix zones.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from app.domain.errors import InvalidDate, InvalidDatetime

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})$")


def parse_date(
    value: object, *, object_name: str = "record", record_id: str | None = None, field: str = "date"
) -> date:
    """A ``YYYY-MM-DD`` string as a date; anything else is ``INVALID_DATE``."""
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass  # shaped like a date but not one (2026-02-30): reported below
    raise InvalidDate(object_name, record_id, field, value)


def parse_datetime(
    value: object, *, object_name: str = "record", record_id: str | None = None, field: str = "timestamp"
) -> datetime:
    """An ISO-8601 timestamp with an explicit offset, as an aware UTC datetime; else ``INVALID_DATETIME``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidDatetime(object_name, record_id, field, value.isoformat())
        try:
            return value.astimezone(UTC)
        except OverflowError:  # year 1 at +01:00, or 9999-12-31 at -01:00: no UTC instant in range
            raise InvalidDatetime(object_name, record_id, field, value.isoformat()) from None
    if isinstance(value, str) and _DATETIME.match(value):
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError):
            pass  # shaped like a timestamp but not one (month 13, or out of range in UTC): reported below
    raise InvalidDatetime(object_name, record_id, field, value)


def parse_modified(value: str | datetime) -> datetime:
    """A source modification time, Vault or Salesforce format, for the "latest wins" comparison."""
    return parse_datetime(value, field="modified time")


def utc_date(moment: datetime) -> date:
    """The calendar date of an aware timestamp in UTC (how a datetime-only CRM call gets its date)."""
    return moment.astimezone(UTC).date()


def format_date(day: date) -> str:
    return day.isoformat()


def format_vault_datetime(moment: datetime) -> str:
    """Vault's own timestamp form, millisecond precision and ``Z``: ``2026-11-20T10:14:58.000Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
