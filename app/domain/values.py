"""Picklist translations: source value -> bridge meaning -> target value, through the names' tables.

Each lookup is exact. A value no table lists raises the rule's typed error (``UNKNOWN_CHANNEL``,
``UNKNOWN_STATUS``...) naming where it was found; nothing is ever mapped by resemblance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from app.domain.errors import (
    UnknownChannel,
    UnknownCommunicationMethod,
    UnknownPhase,
    UnknownRecordStatus,
    UnknownStatus,
    UnknownValue,
    UnknownVisitMethod,
)
from app.domain.names import CrmNames, CtmsNames
from app.domain.vocabulary import CallStatus, Channel, Phase, Platform, RecordStatus

MeaningT = TypeVar("MeaningT")

CTMS = "CTMS"


@dataclass(frozen=True)
class Origin:
    """Where a value was read, for the error message: object, record id, field."""

    object_name: str = "record"
    record_id: str | None = None
    field: str = "value"


NOWHERE = Origin()


def platform_label(platform: Platform) -> str:
    return "Salesforce CRM" if platform == "salesforce" else "Vault CRM"


def _lookup(
    table: Mapping[str, MeaningT], value: str, error: type[UnknownValue], origin: Origin, system: str
) -> MeaningT:
    try:
        return table[value]
    except KeyError:
        raise error(origin.object_name, origin.record_id, origin.field, value, system) from None


def _reverse(table: Mapping[MeaningT, str]) -> dict[str, MeaningT]:
    return {value: meaning for meaning, value in table.items()}


# Channel: one to one in both directions.
def ctms_channel(value: str, names: CtmsNames, origin: Origin = NOWHERE) -> Channel:
    return _lookup(_reverse(names.picklists.channel), value, UnknownChannel, origin, CTMS)


def ctms_channel_value(channel: Channel, names: CtmsNames) -> str:
    return names.picklists.channel[channel]


def crm_channel(value: str, names: CrmNames, origin: Origin = NOWHERE) -> Channel:
    return _lookup(
        _reverse(names.picklists.channel), value, UnknownChannel, origin, platform_label(names.platform)
    )


def crm_channel_value(channel: Channel, names: CrmNames) -> str:
    return names.picklists.channel[channel]


# Complete <-> Status: complete gives Submitted, anything else Planned; only Submitted reads as complete.
def crm_call_status(value: str, names: CrmNames, origin: Origin = NOWHERE) -> CallStatus:
    return _lookup(
        _reverse(names.picklists.call_status), value, UnknownStatus, origin, platform_label(names.platform)
    )


def crm_status_for_complete(complete: bool | None, names: CrmNames) -> str:
    return names.picklists.call_status[CallStatus.SUBMITTED if complete is True else CallStatus.PLANNED]


def is_complete(status: CallStatus) -> bool:
    return status is CallStatus.SUBMITTED


# Study and site statuses, phases: CTMS value -> meaning (many to one allowed) -> CRM value.
def ctms_record_status(value: str, names: CtmsNames, origin: Origin = NOWHERE) -> RecordStatus:
    return _lookup(names.picklists.record_status, value, UnknownRecordStatus, origin, CTMS)


def crm_study_status_value(status: RecordStatus, names: CrmNames) -> str:
    return names.picklists.study_status[status]


def crm_site_status_value(status: RecordStatus, names: CrmNames) -> str:
    return names.picklists.site_status[status]


def ctms_phase(value: str, names: CtmsNames, origin: Origin = NOWHERE) -> Phase:
    return _lookup(names.picklists.phase, value, UnknownPhase, origin, CTMS)


def crm_phase_value(phase: Phase, names: CrmNames) -> str:
    return names.picklists.phase[phase]


# Automation sources: how a visit or a communication was held -> channel.
def visit_method_channel(value: str, names: CtmsNames, origin: Origin = NOWHERE) -> Channel:
    return _lookup(names.picklists.visit_method, value, UnknownVisitMethod, origin, CTMS)


def communication_method_channel(value: str, names: CtmsNames, origin: Origin = NOWHERE) -> Channel:
    return _lookup(names.picklists.communication_method, value, UnknownCommunicationMethod, origin, CTMS)
