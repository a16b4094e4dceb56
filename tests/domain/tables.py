"""Loading the JSON payload tables under ``payloads/`` and checks shared by the table-driven tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from app.domain.errors import MappingError
from app.domain.upsert import TargetUpsert

PAYLOADS = Path(__file__).parent / "payloads"

# Keys whose values are personal data (or free text) in the payloads: never allowed in an error message.
PERSONAL_KEYS = frozenset(
    {
        "FirstName",
        "LastName",
        "Email",
        "first_name__sys",
        "last_name__sys",
        "email__sys",
        "Subject_vod__c",
        "subject__v",
        "From_vod__c",
        "from__v",
    }
)


@cache
def load(file: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / file).read_text(encoding="utf-8"))
    return data


def rows(file: str, table: str) -> list[Any]:
    """One ``pytest.param`` per row of ``table`` in ``file``, named by the row's ``name``."""
    return [pytest.param(row, id=row["name"]) for row in load(file)[table]]


def _personal_values(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PERSONAL_KEYS and isinstance(value, str) and value.strip():
                yield value.strip()
            else:
                yield from _personal_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _personal_values(item)


def assert_error(error: MappingError, expected: dict[str, Any], row: Any) -> None:
    """The error has the expected code (and field), and its message carries none of the row's personal data."""
    assert error.code == expected["code"], error.message
    if "field" in expected:
        assert getattr(error, "field", None) == expected["field"]
    for fragment in expected.get("message_contains", []):
        assert fragment in error.message
    assert "@" not in error.message
    for value in _personal_values(row):
        assert value not in error.message, f"personal data {value!r} leaked into: {error.message}"


def assert_upsert(upsert: TargetUpsert, expected: dict[str, Any]) -> None:
    assert upsert.object == expected["object"]
    assert upsert.id_field == expected["id_field"]
    assert upsert.id_value == expected["id_value"]
    assert upsert.fields == expected["fields"]
    assert upsert.allow_create == expected.get("allow_create", True)
    assert upsert.id_field not in upsert.fields
    json.dumps(upsert.record())  # JSON-ready as it is
