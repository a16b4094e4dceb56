"""F9: the bridge's own writes coming back are recognized, table-driven from payloads/echo.json."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.mapping.echo import is_crm_echo, is_crm_record_echo, is_ctms_echo
from app.domain.names import CrmNames, CtmsNames
from tests.domain.tables import rows


@pytest.mark.parametrize("row", rows("echo.json", "ctms"))
def test_ctms_echo(row: dict[str, Any]) -> None:
    verdict = is_ctms_echo(
        row["object"], row["record"], CtmsNames.defaults(), connection_ids=row["connection_ids"]
    )
    assert verdict is row["expected"]


@pytest.mark.parametrize("row", rows("echo.json", "crm"))
def test_crm_echo(row: dict[str, Any]) -> None:
    names = CrmNames.with_overrides(row["platform"], row.get("object_names"))
    assert is_crm_echo(row["object"], names) is row["expected"]


@pytest.mark.parametrize("row", rows("echo.json", "crm_records"))
def test_crm_record_echo(row: dict[str, Any]) -> None:
    assert is_crm_record_echo(row["record"], CrmNames.defaults(row["platform"])) is row["expected"]


def test_vault_names_are_exact() -> None:
    assert is_crm_echo("Vault_Clinical_Interaction__v", CrmNames.defaults("vault")) is False
