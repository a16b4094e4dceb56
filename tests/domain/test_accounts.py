"""Person <-> Account identifier resolution, table-driven from payloads/accounts.json."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import MappingError
from app.domain.mapping.accounts import (
    AccountMatch,
    account_identifier,
    choose_account,
    choose_person,
    effective_account_match,
    person_identifier,
)
from app.domain.names import CrmNames
from tests.domain.tables import assert_error, rows

DEFAULT_MATCH = AccountMatch.default()


def test_default_pair_is_the_spec_default() -> None:
    assert DEFAULT_MATCH.ctms_person_field == "external_id__v"
    assert DEFAULT_MATCH.crm_account_field == "External_ID_vod__c"


@pytest.mark.parametrize("row", rows("accounts.json", "effective"))
def test_effective_account_match(row: dict[str, Any]) -> None:
    global_pair = AccountMatch.model_validate(row["global"])
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            AccountMatch.from_config(row["connection"])
        assert_error(caught.value, row["error"], row)
        return
    chosen = effective_account_match(global_pair, AccountMatch.from_config(row["connection"]))
    assert chosen.model_dump() == row["expected"]


@pytest.mark.parametrize("row", rows("accounts.json", "persons"))
def test_person_identifier(row: dict[str, Any]) -> None:
    match = AccountMatch.model_validate(row["match"])
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            person_identifier(row["person"], match)
        assert_error(caught.value, row["error"], row)
    else:
        assert person_identifier(row["person"], match) == row["expected"]


@pytest.mark.parametrize("row", rows("accounts.json", "accounts"))
def test_choose_account(row: dict[str, Any]) -> None:
    match = AccountMatch.model_validate(row["match"]) if "match" in row else DEFAULT_MATCH
    names = CrmNames.defaults(row["platform"])
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            choose_account(row["identifier"], row["candidates"], match=match, names=names)
        assert_error(caught.value, row["error"], row)
    else:
        assert (
            choose_account(row["identifier"], row["candidates"], match=match, names=names) == row["expected"]
        )


@pytest.mark.parametrize("row", rows("accounts.json", "account_identifiers"))
def test_account_identifier(row: dict[str, Any]) -> None:
    names = CrmNames.defaults(row["platform"])
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            account_identifier(row["account"], DEFAULT_MATCH, names)
        assert_error(caught.value, row["error"], row)
    else:
        assert account_identifier(row["account"], DEFAULT_MATCH, names) == row["expected"]


@pytest.mark.parametrize("row", rows("accounts.json", "persons_by_identifier"))
def test_choose_person(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            choose_person(row["identifier"], row["candidates"], match=DEFAULT_MATCH)
        assert_error(caught.value, row["error"], row)
    else:
        assert choose_person(row["identifier"], row["candidates"], match=DEFAULT_MATCH) == row["expected"]
