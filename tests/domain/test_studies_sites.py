"""F5-F7: studies and sites, table-driven from payloads/studies_sites.json."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.ctms import parse_ctms_site, parse_ctms_study
from app.domain.errors import MappingError
from app.domain.mapping.sites import site_deletion, site_to_clinical_site
from app.domain.mapping.studies import study_deletion, study_to_clinical_study
from app.domain.names import CrmNames, CtmsNames
from app.domain.upsert import TargetUpsert
from tests.domain.tables import assert_error, assert_upsert, rows

CTMS = CtmsNames.defaults()


def _study(row: dict[str, Any]) -> TargetUpsert:
    names = CrmNames.with_overrides(row["platform"], row.get("object_names"))
    return study_to_clinical_study(parse_ctms_study(row["record"], CTMS), names)


def _site(row: dict[str, Any]) -> TargetUpsert:
    names = CrmNames.defaults(row["platform"])
    site = parse_ctms_site(row["record"], CTMS)
    return site_to_clinical_site(site, names, row["study_ref"], row["country_name"])


@pytest.mark.parametrize("row", rows("studies_sites.json", "studies"))
def test_study_to_clinical_study(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            _study(row)
        assert_error(caught.value, row["error"], row)
    else:
        assert_upsert(_study(row), row["expect"])


@pytest.mark.parametrize("row", rows("studies_sites.json", "sites"))
def test_site_to_clinical_site(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            _site(row)
        assert_error(caught.value, row["error"], row)
    else:
        assert_upsert(_site(row), row["expect"])


@pytest.mark.parametrize("row", rows("studies_sites.json", "deletions"))
def test_deletion_marks_the_status_and_never_creates(row: dict[str, Any]) -> None:
    delete = study_deletion if row["kind"] == "study" else site_deletion
    names = CrmNames.defaults(row["platform"])
    first = delete(row["id"], names)
    assert_upsert(first, row["expect"])
    assert delete(row["id"], names) == first  # a repeated delete changes nothing
