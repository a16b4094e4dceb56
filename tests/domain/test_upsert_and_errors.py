"""The write every mapping returns, its content hash, and the error vocabulary."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pytest

from app.domain import errors
from app.domain.errors import ErrorCode, MappingError, PersonNotMatched, shown
from app.domain.upsert import TargetUpsert, content_hash
from tests.domain.tables import assert_error, rows

UPSERT = TargetUpsert(
    object="Vault_Clinical_Interaction_vod__c",
    id_field="Vault_Activity_ID_vod__c",
    id_value="V6A000000001001",
    fields={"Subject_vod__c": "Protocol Q&A", "Status_vod__c": "Submitted_vod", "From_vod__c": None},
)


def test_record_adds_the_id_field_to_the_fields() -> None:
    assert UPSERT.record() == {
        "Vault_Activity_ID_vod__c": "V6A000000001001",
        "Subject_vod__c": "Protocol Q&A",
        "Status_vod__c": "Submitted_vod",
        "From_vod__c": None,
    }
    assert UPSERT.allow_create is True


def test_content_hash_is_sha256_of_canonical_json() -> None:
    # Stored hashes must stay comparable across releases: the canonical form is part of the contract.
    canonical = '{"a":"é","b":1,"c":"2026-11-19"}'
    assert (
        content_hash({"c": date(2026, 11, 19), "b": 1, "a": "é"})
        == hashlib.sha256(canonical.encode()).hexdigest()
    )


def test_upsert_hash_depends_on_target_and_content() -> None:
    other_target = UPSERT.model_copy(update={"id_value": "V6A000000001002"})
    other_content = UPSERT.model_copy(
        update={"fields": UPSERT.fields | {"Subject_vod__c": "Protocol Q&A Deleted"}}
    )
    hashes = {UPSERT.content_hash(), other_target.content_hash(), other_content.content_hash()}
    assert len(hashes) == 3


def test_content_hash_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(TypeError, match="object"):
        content_hash({"x": object()})


@pytest.mark.parametrize("row", rows("errors.json", "shown"))
def test_shown_values(row: dict[str, Any]) -> None:
    assert shown(row["value"]) == row["expected"]


def _concrete_error_classes() -> list[type[MappingError]]:
    found: list[type[MappingError]] = []
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, MappingError) and "code" in vars(value):
            found.append(value)
    return found


def test_every_code_has_exactly_one_error_class() -> None:
    codes = [cls.code for cls in _concrete_error_classes()]
    assert sorted(codes) == sorted(ErrorCode)


def test_error_str_leads_with_the_code() -> None:
    error = PersonNotMatched("V0P000000000123", "conn-eu", 7)
    assert str(error).startswith("PERSON_NOT_MATCHED: ")
    assert_error(error, {"code": "PERSON_NOT_MATCHED", "message_contains": ["conn-eu", "7 days"]}, {})
