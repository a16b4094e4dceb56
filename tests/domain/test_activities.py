"""F1-F4: activities both ways, table-driven from payloads/clinical_activities.json,
payloads/interaction_deletions.json and payloads/crm_calls.json."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.crm import CrmCall, parse_crm_call
from app.domain.ctms import parse_ctms_activity, parse_vault_user
from app.domain.errors import MappingError
from app.domain.mapping.accounts import AccountMatch, call_account_identifier
from app.domain.mapping.activities import (
    clinical_activity_to_interaction,
    crm_call_to_medical_activity,
    interaction_deletion,
    mark_interaction_deleted,
    medical_activity_inactivation,
)
from app.domain.names import CrmNames, CtmsNames
from app.domain.upsert import TargetUpsert
from tests.domain.tables import assert_error, assert_upsert, rows

CTMS = CtmsNames.defaults()


def _interaction(row: dict[str, Any]) -> TargetUpsert:
    names = CrmNames.with_overrides(row["platform"], row.get("object_names"))
    activity = parse_ctms_activity(row["record"], CTMS)
    creator = parse_vault_user(row["user"], CTMS) if row["user"] is not None else None
    return clinical_activity_to_interaction(
        activity,
        names=names,
        account_id=row["account_id"],
        study_ref=row["study_ref"],
        site_ref=row["site_ref"],
        created_by=creator,
        sync_studies_and_sites=row["sync"],
    )


@pytest.mark.parametrize("row", rows("clinical_activities.json", "cases"))
def test_clinical_activity_to_interaction(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            _interaction(row)
        assert_error(caught.value, row["error"], row)
    else:
        assert_upsert(_interaction(row), row["expect"])


def test_same_activity_gives_same_content_hash() -> None:
    row = rows("clinical_activities.json", "cases")[0].values[0]
    assert _interaction(row).content_hash() == _interaction(row).content_hash()


@pytest.mark.parametrize("row", rows("interaction_deletions.json", "subjects"))
def test_deleted_is_appended_exactly_once(row: dict[str, Any]) -> None:
    once = mark_interaction_deleted(row["subject"])
    assert once == row["expected"]
    assert mark_interaction_deleted(once) == once
    assert mark_interaction_deleted(mark_interaction_deleted(once)) == once


@pytest.mark.parametrize("row", rows("interaction_deletions.json", "upserts"))
def test_interaction_deletion_is_a_partial_update(row: dict[str, Any]) -> None:
    upsert = interaction_deletion(row["activity_id"], row["last_subject"], CrmNames.defaults(row["platform"]))
    assert_upsert(upsert, row["expect"])


def _call(row: dict[str, Any]) -> CrmCall:
    return parse_crm_call(row["record"], row["platform"], CrmNames.defaults(row["platform"]))


@pytest.mark.parametrize("row", rows("crm_calls.json", "cases"))
def test_crm_call_to_medical_activity(row: dict[str, Any]) -> None:
    if "error" in row:
        with pytest.raises(MappingError) as caught:
            crm_call_to_medical_activity(
                _call(row), connection_id=row["connection_id"], person_id=row["person_id"], ctms_names=CTMS
            )
        assert_error(caught.value, row["error"], row)
        return
    call = _call(row)
    expected = row["expect_call"]
    match = AccountMatch(
        ctms_person_field="external_id__v",
        crm_account_field="External_ID_vod__c" if row["platform"] == "salesforce" else "external_id__v",
    )
    assert {
        "id": call.id,
        "call_date": call.call_date.isoformat(),
        "channel": call.channel,
        "status": call.status,
        "complete": call.complete,
        "subject": call.subject,
        "account_id": call.account_id,
        "account_identifier": call_account_identifier(call, match),
        "created_by_id": call.created_by_id,
        "last_modified": call.last_modified.isoformat() if call.last_modified else None,
    } == expected
    upsert = crm_call_to_medical_activity(
        call, connection_id=row["connection_id"], person_id=row["person_id"], ctms_names=CTMS
    )
    assert_upsert(upsert, row["expect"])


@pytest.mark.parametrize("row", rows("crm_calls.json", "inactivations"))
def test_deleted_call_inactivates_its_medical_activity(row: dict[str, Any]) -> None:
    assert_upsert(medical_activity_inactivation(row["connection_id"], row["call_id"], CTMS), row["expect"])


def test_names_for_another_platform_are_refused() -> None:
    row = rows("crm_calls.json", "cases")[0].values[0]
    with pytest.raises(ValueError, match="salesforce"):
        parse_crm_call(row["record"], "salesforce", CrmNames.defaults("vault"))


@pytest.mark.parametrize("missing", ["connection_id", "person_id"])
def test_engine_supplied_ids_must_not_be_empty(missing: str) -> None:
    call = _call(rows("crm_calls.json", "cases")[0].values[0])
    ids = {"connection_id": "conn-eu", "person_id": "V0P000000000123"} | {missing: ""}
    with pytest.raises(ValueError, match=missing):
        crm_call_to_medical_activity(call, ctms_names=CTMS, **ids)
