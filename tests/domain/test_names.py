"""Default names and overrides (a connection's object_names, the CTMS names), from payloads/object_names.json."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from app.domain.errors import MappingError
from app.domain.names import CrmNames, CtmsNames
from tests.domain.tables import assert_error, rows


def _at(names: BaseModel, path: str) -> object:
    node: Any = names
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


@pytest.mark.parametrize("row", rows("object_names.json", "valid"))
def test_valid_overrides(row: dict[str, Any]) -> None:
    names = CrmNames.with_overrides(row["platform"], row["object_names"])
    assert names.platform == row["platform"]
    for path, expected in row["expected"].items():
        assert _at(names, path) == expected, path


@pytest.mark.parametrize("row", rows("object_names.json", "invalid"))
def test_invalid_overrides_name_the_bad_key(row: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as caught:
        CrmNames.with_overrides(row["platform"], row["object_names"])
    assert_error(caught.value, row["error"], row)


@pytest.mark.parametrize("row", rows("object_names.json", "ctms_valid"))
def test_valid_ctms_overrides(row: dict[str, Any]) -> None:
    names = CtmsNames.with_overrides(row["overrides"])
    for path, expected in row["expected"].items():
        assert _at(names, path) == expected, path


@pytest.mark.parametrize("row", rows("object_names.json", "ctms_invalid"))
def test_invalid_ctms_overrides(row: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as caught:
        CtmsNames.with_overrides(row["overrides"])
    assert_error(caught.value, row["error"], row)


@pytest.mark.parametrize("platform", ["salesforce", "vault"])
def test_the_full_default_document_is_a_valid_override(platform: str) -> None:
    document = CrmNames.default_document(platform)  # type: ignore[arg-type]
    assert CrmNames.with_overrides(platform, document) == CrmNames.defaults(platform)  # type: ignore[arg-type]


def test_the_full_ctms_document_is_a_valid_override() -> None:
    assert CtmsNames.with_overrides(CtmsNames.default_document()) == CtmsNames.defaults()


def test_contract_defaults_for_salesforce() -> None:
    names = CrmNames.defaults("salesforce")
    assert (names.clinical_study.object, names.clinical_study.external_id) == (
        "Clinical_Study_vod__c",
        "Vault_Study_ID_vod__c",
    )
    assert names.clinical_study.fields.model_dump() == {
        "name": "Name",
        "status": "Status_vod__c",
        "phase": "Phase_vod__c",
    }
    assert (names.clinical_site.object, names.clinical_site.external_id) == (
        "Clinical_Site_vod__c",
        "Vault_Site_ID_vod__c",
    )
    assert names.clinical_site.fields.model_dump() == {
        "name": "Name",
        "status": "Status_vod__c",
        "clinical_study": "Clinical_Study_vod__c",
        "country": "Country_vod__c",
    }


def test_unknown_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown CRM platform"):
        CrmNames.defaults("dynamics")  # type: ignore[arg-type]
