"""Channel, Complete <-> Status, study/site status, phase and From: every table row, both directions."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.ctms import parse_vault_user
from app.domain.errors import MappingError
from app.domain.names import CrmNames, CtmsNames
from app.domain.users import format_from
from app.domain.values import (
    communication_method_channel,
    crm_call_status,
    crm_channel,
    crm_channel_value,
    crm_phase_value,
    crm_site_status_value,
    crm_status_for_complete,
    crm_study_status_value,
    ctms_channel,
    ctms_channel_value,
    ctms_phase,
    ctms_record_status,
    is_complete,
    visit_method_channel,
)
from app.domain.vocabulary import CallStatus, Channel, Phase, RecordStatus
from tests.domain.tables import assert_error, load, rows

CTMS = CtmsNames.defaults()
CRM = {"salesforce": CrmNames.defaults("salesforce"), "vault": CrmNames.defaults("vault")}


def test_the_channel_table_covers_every_channel() -> None:
    assert {row["channel"] for row in load("values.json")["channels"]} == set(Channel)


@pytest.mark.parametrize("row", rows("values.json", "channels"))
def test_channel_one_to_one_both_ways(row: dict[str, Any]) -> None:
    channel = Channel(row["channel"])
    assert ctms_channel(row["ctms"], CTMS) is channel
    assert ctms_channel_value(channel, CTMS) == row["ctms"]
    for platform in ("salesforce", "vault"):
        assert crm_channel(row[platform], CRM[platform]) is channel
        assert crm_channel_value(channel, CRM[platform]) == row[platform]


@pytest.mark.parametrize("row", rows("values.json", "complete_to_status"))
def test_complete_gives_submitted_anything_else_planned(row: dict[str, Any]) -> None:
    for platform in ("salesforce", "vault"):
        assert crm_status_for_complete(row["complete"], CRM[platform]) == row[platform]


@pytest.mark.parametrize("row", rows("values.json", "status_to_complete"))
def test_only_submitted_reads_as_complete(row: dict[str, Any]) -> None:
    status = crm_call_status(row["value"], CRM[row["platform"]])
    assert status is CallStatus(row["status"])
    assert is_complete(status) is row["complete"]


def test_every_call_status_has_a_row() -> None:
    for platform in ("salesforce", "vault"):
        seen = {
            row["status"] for row in load("values.json")["status_to_complete"] if row["platform"] == platform
        }
        assert seen == set(CallStatus)


def _translate(kind: str, system: str, value: str) -> object:
    if kind == "channel":
        return ctms_channel(value, CTMS) if system == "ctms" else crm_channel(value, CRM[system])
    if kind == "status":
        return crm_call_status(value, CRM[system])
    if kind == "record_status":
        return ctms_record_status(value, CTMS)
    if kind == "phase":
        return ctms_phase(value, CTMS)
    if kind == "visit_method":
        return visit_method_channel(value, CTMS)
    return communication_method_channel(value, CTMS)


@pytest.mark.parametrize("row", rows("values.json", "unknown"))
def test_an_unknown_value_is_an_error_never_a_guess(row: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as caught:
        _translate(row["kind"], row["system"], row["value"])
    assert_error(caught.value, row["error"], row)


@pytest.mark.parametrize("row", rows("values.json", "record_status"))
def test_study_and_site_status_tables(row: dict[str, Any]) -> None:
    status = ctms_record_status(row["ctms"], CTMS)
    assert status is RecordStatus(row["status"])
    assert crm_study_status_value(status, CRM["salesforce"]) == row["salesforce_study"]
    assert crm_site_status_value(status, CRM["salesforce"]) == row["salesforce_site"]
    assert crm_study_status_value(status, CRM["vault"]) == row["vault"]
    assert crm_site_status_value(status, CRM["vault"]) == row["vault"]


@pytest.mark.parametrize("row", rows("values.json", "phase"))
def test_phase_table(row: dict[str, Any]) -> None:
    phase = ctms_phase(row["ctms"], CTMS)
    assert phase is Phase(row["phase"])
    assert crm_phase_value(phase, CRM["salesforce"]) == row["salesforce"]
    assert crm_phase_value(phase, CRM["vault"]) == row["vault"]


def test_deleted_in_vault_clinical_has_a_value_on_every_platform() -> None:
    assert crm_study_status_value(RecordStatus.DELETED_IN_VAULT_CLINICAL, CRM["salesforce"]) == (
        "Deleted_in_Vault_Clinical_vod"
    )
    assert (
        crm_site_status_value(RecordStatus.DELETED_IN_VAULT_CLINICAL, CRM["vault"])
        == "deleted_in_vault_clinical__v"
    )


@pytest.mark.parametrize("row", rows("values.json", "from"))
def test_from_is_first_last_email_of_the_creator(row: dict[str, Any]) -> None:
    user = parse_vault_user(row["user"], CTMS) if row["user"] is not None else None
    assert format_from(user) == row["expected"]
