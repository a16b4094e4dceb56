"""Object, field and picklist names of the CTMS vault, with overrides.

Activity names are CONTRACT.md section 3. Names marked **default** are ours (the public Vault Clinical
help names the concepts, e.g. the Monitoring Event's "Monitoring Visit Method" and "Activity Update
Required" fields, but not every API name): Study/Site status and phase values, the Monitoring Event and
Study Communication Log fields, and the visit/communication method tables. A study's status is read from
``study_status__v``, since Vault's own ``status__v`` is a record's active/inactive state. There is one CTMS per
deployment, so its overrides are a bridge-wide setting with the same shape as a connection's
``object_names``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Self

from pydantic import model_validator

from app.domain.names._overrides import ApiName, Frozen, build_names, reverse_one_to_one
from app.domain.vocabulary import Channel, Phase, RecordStatus


class ActivityFields(Frozen):
    id: ApiName
    object_type: ApiName
    person: ApiName
    date: ApiName
    channel: ApiName
    complete: ApiName
    sender: ApiName
    subject: ApiName
    study: ApiName
    study_country: ApiName
    site: ApiName
    study_person: ApiName
    monitoring_event: ApiName
    communication_log: ApiName
    status: ApiName
    external_id: ApiName
    created_by: ApiName
    modified: ApiName


class ActivityNames(Frozen):
    object: ApiName
    fields: ActivityFields


class StudyFields(Frozen):
    id: ApiName
    name: ApiName
    status: ApiName
    phase: ApiName
    modified: ApiName


class StudyNames(Frozen):
    object: ApiName
    fields: StudyFields


class SiteFields(Frozen):
    id: ApiName
    name: ApiName
    study: ApiName
    study_country: ApiName
    status: ApiName
    modified: ApiName


class SiteNames(Frozen):
    object: ApiName
    fields: SiteFields


class MonitoringEventFields(Frozen):
    id: ApiName
    name: ApiName
    person: ApiName
    study: ApiName
    study_country: ApiName
    site: ApiName
    visit_method: ApiName
    actual_start: ApiName
    planned_start: ApiName
    activity_update_required: ApiName
    modified: ApiName


class MonitoringEventNames(Frozen):
    object: ApiName
    fields: MonitoringEventFields


class CommunicationLogFields(Frozen):
    id: ApiName
    subject: ApiName
    study: ApiName
    study_country: ApiName
    site: ApiName
    person: ApiName
    date: ApiName
    method: ApiName
    activity_update_required: ApiName
    modified: ApiName


class CommunicationLogNames(Frozen):
    object: ApiName
    fields: CommunicationLogFields


class VaultUserNames(Frozen):
    object: ApiName
    id: ApiName
    first_name: ApiName
    last_name: ApiName
    email: ApiName


class PersonNames(Frozen):
    object: ApiName
    id: ApiName


class CtmsPicklists(Frozen):
    """``channel``, ``object_type`` and ``activity_status`` are one to one; the other tables read one
    way (CTMS value -> meaning), so several CTMS values may share a meaning."""

    channel: dict[Channel, ApiName]
    object_type: dict[str, ApiName]
    activity_status: dict[str, ApiName]
    record_status: dict[ApiName, RecordStatus]
    phase: dict[ApiName, Phase]
    visit_method: dict[ApiName, Channel]
    communication_method: dict[ApiName, Channel]

    @model_validator(mode="after")
    def _one_to_one(self) -> Self:
        for name in ("channel", "object_type", "activity_status"):
            reverse_one_to_one(getattr(self, name), name)
        return self

    @property
    def clinical_activity(self) -> str:
        return self.object_type["clinical_activity"]

    @property
    def medical_activity(self) -> str:
        return self.object_type["medical_activity"]

    @property
    def active(self) -> str:
        return self.activity_status["active"]

    @property
    def inactive(self) -> str:
        return self.activity_status["inactive"]


_COMMON = {"id": "id", "modified": "modified_date__v"}

_CTMS: dict[str, Any] = {
    "activity": {
        "object": "crm_activity__v",
        "fields": {
            "id": "id",
            "object_type": "object_type__v",
            "person": "person__v",
            "date": "activity_date__v",
            "channel": "channel__v",
            "complete": "complete__v",
            "sender": "from__v",
            "subject": "subject__v",
            "study": "study__v",
            "study_country": "study_country__v",
            "site": "site__v",
            "study_person": "study_person__v",
            "monitoring_event": "monitoring_event__v",
            "communication_log": "study_communication_log__v",
            "status": "status__v",
            "external_id": "external_id__v",
            "created_by": "created_by__v",
            "modified": "modified_date__v",
        },
    },
    "study": {
        "object": "study__v",
        "fields": {**_COMMON, "name": "name__v", "status": "study_status__v", "phase": "phase__v"},
    },
    "site": {
        "object": "site__v",
        "fields": {
            **_COMMON,
            "name": "name__v",
            "study": "study__v",
            "study_country": "study_country__v",
            "status": "site_status__v",
        },
    },
    "monitoring_event": {
        "object": "monitoring_event__v",
        "fields": {
            **_COMMON,
            "name": "name__v",
            "person": "person__v",
            "study": "study__v",
            "study_country": "study_country__v",
            "site": "site__v",
            "visit_method": "monitoring_visit_method__v",
            "actual_start": "actual_visit_start_date__v",
            "planned_start": "planned_visit_start_date__v",
            "activity_update_required": "activity_update_required__v",
        },
    },
    "communication_log": {
        "object": "study_communication_log__ctms",
        "fields": {
            **_COMMON,
            "subject": "subject__v",
            "study": "study__v",
            "study_country": "study_country__v",
            "site": "site__v",
            "person": "person__v",
            "date": "communication_date__v",
            "method": "communication_method__v",
            "activity_update_required": "activity_update_required__v",
        },
    },
    "user": {
        "object": "user__sys",
        "id": "id",
        "first_name": "first_name__sys",
        "last_name": "last_name__sys",
        "email": "email__sys",
    },
    "person": {"object": "person__sys", "id": "id"},
    "picklists": {
        "channel": {
            "in_person": "in_person__v",
            "video": "video__v",
            "phone": "phone__v",
            "chat_text": "chat_text__v",
            "email": "email__v",
            "other": "other__v",
        },
        "object_type": {
            "clinical_activity": "clinical_activity__v",
            "medical_activity": "medical_activity__v",
        },
        "activity_status": {"active": "active__v", "inactive": "inactive__v"},
        "record_status": {
            "planned__v": "planned",
            "active__v": "active",
            "enrolling__v": "enrolling",
            "closed__v": "closed",
            "completed__v": "completed",
            "terminated__v": "terminated",
        },
        "phase": {
            "phase_1__v": "phase_1",
            "phase_2__v": "phase_2",
            "phase_3__v": "phase_3",
            "phase_4__v": "phase_4",
            "not_applicable__v": "not_applicable",
        },
        # How a visit or a communication was held -> the activity's channel. A remote monitoring visit
        # is held over video by default; a method not listed is an error, never a guess.
        "visit_method": {
            "on_site__v": "in_person",
            "remote__v": "video",
            "video__v": "video",
            "phone__v": "phone",
        },
        "communication_method": {
            "in_person__v": "in_person",
            "meeting__v": "in_person",
            "video__v": "video",
            "phone__v": "phone",
            "chat_text__v": "chat_text",
            "email__v": "email",
            "letter__v": "other",
            "other__v": "other",
        },
    },
}

# Lookup tables keyed by CTMS values: an override replaces the whole table (so entries can be removed).
_WHOLE_TABLES = frozenset(
    {"picklists.record_status", "picklists.phase", "picklists.visit_method", "picklists.communication_method"}
)


class CtmsNames(Frozen):
    activity: ActivityNames
    study: StudyNames
    site: SiteNames
    monitoring_event: MonitoringEventNames
    communication_log: CommunicationLogNames
    user: VaultUserNames
    person: PersonNames
    picklists: CtmsPicklists

    @classmethod
    def defaults(cls) -> CtmsNames:
        return _defaults()

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Any] | None) -> CtmsNames:
        """The defaults with the bridge-wide CTMS overrides layered on (``INVALID_OBJECT_NAMES``)."""
        if overrides is None or (isinstance(overrides, Mapping) and not overrides):
            return _defaults()
        return build_names(cls, _CTMS, overrides, setting="ctms_names", whole_tables=_WHOLE_TABLES)

    @staticmethod
    def default_document() -> dict[str, Any]:
        return _defaults().model_dump(mode="json")


@cache
def _defaults() -> CtmsNames:
    return build_names(CtmsNames, _CTMS, {}, setting="ctms_names", whole_tables=_WHOLE_TABLES)
