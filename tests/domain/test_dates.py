"""Dates and timestamps of both platforms; the "latest wins" comparison."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from app.domain.dates import format_vault_datetime, parse_date, parse_datetime, parse_modified, utc_date
from app.domain.errors import MappingError
from tests.domain.tables import assert_error, rows


@pytest.mark.parametrize("row", rows("dates.json", "dates"))
def test_dates(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            parse_date(
                row["value"], object_name="crm_activity__v", record_id="V6A1", field="activity_date__v"
            )
        assert_error(caught.value, row["error"] | {"field": "activity_date__v"}, row)
        assert "crm_activity__v V6A1" in caught.value.message
    else:
        assert parse_date(row["value"]).isoformat() == row["expected"]


def test_today_is_a_valid_date() -> None:
    today = date.today()  # any calendar date is valid: the rule has no notion of "now"
    assert parse_date(today.isoformat()) == today


@pytest.mark.parametrize("row", rows("dates.json", "datetimes"))
def test_datetimes(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            parse_datetime(row["value"], field="LastModifiedDate")
        assert_error(caught.value, row["error"], row)
        return
    parsed = parse_datetime(row["value"])
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == UTC.utcoffset(None)
    assert parsed.isoformat() == row["utc"]
    assert utc_date(parsed).isoformat() == row["utc_date"]


@pytest.mark.parametrize("row", rows("dates.json", "latest_wins"))
def test_parse_modified_orders_both_formats(row: dict[str, Any]) -> None:
    a, b = parse_modified(row["a"]), parse_modified(row["b"])
    expected = {"equal": a == b, "a": a > b, "b": b > a}
    assert expected[row["order"]]


def test_parse_modified_rejects_naive_datetimes() -> None:
    with pytest.raises(MappingError) as caught:
        parse_modified(datetime(2026, 11, 20, 10, 14, 58))  # naive: the point of the test
    assert caught.value.code == "INVALID_DATETIME"
    assert parse_modified(datetime(2026, 11, 20, 10, 14, 58, tzinfo=UTC)).tzinfo is UTC


@pytest.mark.parametrize("row", rows("dates.json", "vault_format"))
def test_vault_datetime_format(row: dict[str, Any]) -> None:
    assert format_vault_datetime(datetime.fromisoformat(row["value"])) == row["expected"]
