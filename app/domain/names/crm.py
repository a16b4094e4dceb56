"""Object, field and picklist names of a CRM connection, per platform, with per-connection overrides.

Salesforce defaults are CONTRACT.md section 3 and the SPEC.md picklists. Vault CRM names are not given
there: the Vault CRM names below are **defaults** chosen by analogy (Veeva CRM's ``Field_Name_vod__c``
is ``field_name__v`` on Vault CRM; ``call2__v``, ``call_channel__v`` and ``call_date__v`` are confirmed by
the Vault CRM help, the rest is not). Vault reserves the standard ``status__v`` for a record's
active/inactive state, so an object's own status follows the rename rule of the public Salesforce to
Vault CRM migration tooling, ``Status_vod__c`` → ``{object}_status__v`` (calls: ``call2_status__v`` with
``submitted__v``; the interaction, study and site likewise): defaults, which an operator changes per
connection through ``object_names`` (see ``CrmNames.with_overrides``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Self

from pydantic import model_validator

from app.domain.names._overrides import ApiName, Frozen, build_names, reverse_one_to_one
from app.domain.vocabulary import CallStatus, Channel, Phase, Platform, RecordStatus


class InteractionFields(Frozen):
    account: ApiName
    date: ApiName
    channel: ApiName
    status: ApiName
    sender: ApiName
    """The "From" field: ``First Last (email)`` of the user who created the source record."""
    subject: ApiName
    clinical_study: ApiName
    clinical_site: ApiName


class InteractionNames(Frozen):
    object: ApiName
    external_id: ApiName
    fields: InteractionFields


class ClinicalStudyFields(Frozen):
    name: ApiName
    status: ApiName
    phase: ApiName


class ClinicalStudyNames(Frozen):
    object: ApiName
    external_id: ApiName
    fields: ClinicalStudyFields


class ClinicalSiteFields(Frozen):
    name: ApiName
    status: ApiName
    clinical_study: ApiName
    country: ApiName


class ClinicalSiteNames(Frozen):
    object: ApiName
    external_id: ApiName
    fields: ClinicalSiteFields


class AccountNames(Frozen):
    """The account object; which field identifies a person is the account match's business, not this."""

    object: ApiName
    id: ApiName


class CallFields(Frozen):
    id: ApiName
    date: ApiName
    datetime: ApiName
    channel: ApiName
    status: ApiName
    subject: ApiName
    account: ApiName
    account_relationship: ApiName
    created_by: ApiName
    created_by_relationship: ApiName
    last_modified: ApiName
    sent_to_vault: ApiName
    """The "sent to Vault Clinical" flag catch-up reads (a default name: an org may spell it otherwise)."""


class CallNames(Frozen):
    object: ApiName
    fields: CallFields


class UserFields(Frozen):
    first_name: ApiName
    last_name: ApiName
    email: ApiName


class CrmPicklists(Frozen):
    """Bridge meaning -> CRM picklist value. ``channel`` and ``call_status`` are read both ways, so they
    must be one to one; the study and site status tables are written only, so meanings may share a value
    (a CRM without an "Enrolling" status can show enrolling sites as active)."""

    channel: dict[Channel, ApiName]
    call_status: dict[CallStatus, ApiName]
    study_status: dict[RecordStatus, ApiName]
    site_status: dict[RecordStatus, ApiName]
    phase: dict[Phase, ApiName]

    @model_validator(mode="after")
    def _one_to_one(self) -> Self:
        for name in ("channel", "call_status", "phase"):
            reverse_one_to_one(getattr(self, name), name)
        return self


_SALESFORCE: dict[str, Any] = {
    "interaction": {
        "object": "Vault_Clinical_Interaction_vod__c",
        "external_id": "Vault_Activity_ID_vod__c",
        "fields": {
            "account": "Account_vod__c",
            "date": "Interaction_Date_vod__c",
            "channel": "Call_Channel_vod__c",
            "status": "Status_vod__c",
            "sender": "From_vod__c",
            "subject": "Subject_vod__c",
            "clinical_study": "Clinical_Study_vod__c",
            "clinical_site": "Clinical_Site_vod__c",
        },
    },
    "clinical_study": {
        "object": "Clinical_Study_vod__c",
        "external_id": "Vault_Study_ID_vod__c",
        "fields": {"name": "Name", "status": "Status_vod__c", "phase": "Phase_vod__c"},
    },
    "clinical_site": {
        "object": "Clinical_Site_vod__c",
        "external_id": "Vault_Site_ID_vod__c",
        "fields": {
            "name": "Name",
            "status": "Status_vod__c",
            "clinical_study": "Clinical_Study_vod__c",
            "country": "Country_vod__c",
        },
    },
    "account": {"object": "Account", "id": "Id"},
    "call": {
        "object": "Call2_vod__c",
        "fields": {
            "id": "Id",
            "date": "Call_Date_vod__c",
            "datetime": "Call_Datetime_vod__c",
            "channel": "Call_Channel_vod__c",
            "status": "Status_vod__c",
            "subject": "Subject_vod__c",
            "account": "Account_vod__c",
            "account_relationship": "Account",
            "created_by": "CreatedById",
            "created_by_relationship": "CreatedBy",
            "last_modified": "LastModifiedDate",
            "sent_to_vault": "Sent_to_Vault_Clinical_vod__c",
        },
    },
    "user": {"first_name": "FirstName", "last_name": "LastName", "email": "Email"},
    "picklists": {
        "channel": {
            "in_person": "Face_to_face_vod",
            "video": "Video_vod",
            "phone": "Phone_vod",
            "chat_text": "Message_vod",
            "email": "Email_vod",
            "other": "Other_vod",
        },
        "call_status": {"planned": "Planned_vod", "saved": "Saved_vod", "submitted": "Submitted_vod"},
        # Default values: the public docs confirm only "Deleted in Vault Clinical" among these.
        "study_status": {
            "planned": "Planned_vod",
            "active": "Active_vod",
            "enrolling": "Enrolling_vod",
            "closed": "Closed_vod",
            "completed": "Completed_vod",
            "terminated": "Terminated_vod",
            "deleted_in_vault_clinical": "Deleted_in_Vault_Clinical_vod",
        },
        "site_status": {
            "planned": "Planned_vod",
            "active": "Active_vod",
            "enrolling": "Enrolling_vod",
            "closed": "Closed_vod",
            "completed": "Closed_vod",
            "terminated": "Terminated_vod",
            "deleted_in_vault_clinical": "Deleted_in_Vault_Clinical_vod",
        },
        "phase": {
            "phase_1": "Phase_1_vod",
            "phase_2": "Phase_2_vod",
            "phase_3": "Phase_3_vod",
            "phase_4": "Phase_4_vod",
            "not_applicable": "Not_applicable_vod",
        },
    },
}

_VAULT_RECORD_STATUS = {
    "planned": "active__v",
    "active": "active__v",
    "enrolling": "active__v",
    "closed": "inactive__v",
    "completed": "inactive__v",
    "terminated": "inactive__v",
    "deleted_in_vault_clinical": "deleted_in_vault_clinical__v",
}

_VAULT: dict[str, Any] = {
    "interaction": {
        "object": "vault_clinical_interaction__v",
        "external_id": "vault_activity_id__v",
        "fields": {
            "account": "account__v",
            "date": "interaction_date__v",
            "channel": "call_channel__v",
            "status": "vault_clinical_interaction_status__v",
            "sender": "from__v",
            "subject": "subject__v",
            "clinical_study": "clinical_study__v",
            "clinical_site": "clinical_site__v",
        },
    },
    "clinical_study": {
        "object": "clinical_study__v",
        "external_id": "vault_study_id__v",
        "fields": {"name": "name__v", "status": "clinical_study_status__v", "phase": "phase__v"},
    },
    "clinical_site": {
        "object": "clinical_site__v",
        "external_id": "vault_site_id__v",
        "fields": {
            "name": "name__v",
            "status": "clinical_site_status__v",
            "clinical_study": "clinical_study__v",
            "country": "country__v",
        },
    },
    "account": {"object": "account__v", "id": "id"},
    "call": {
        "object": "call2__v",
        "fields": {
            "id": "id",
            "date": "call_date__v",
            "datetime": "call_datetime__v",
            "channel": "call_channel__v",
            "status": "call2_status__v",
            "subject": "subject__v",
            "account": "account__v",
            "account_relationship": "account__vr",
            "created_by": "created_by__v",
            "created_by_relationship": "created_by__vr",
            "last_modified": "modified_date__v",
            "sent_to_vault": "sent_to_vault_clinical__v",
        },
    },
    "user": {"first_name": "first_name__sys", "last_name": "last_name__sys", "email": "email__sys"},
    "picklists": {
        "channel": {
            "in_person": "face_to_face__v",
            "video": "video__v",
            "phone": "phone__v",
            "chat_text": "message__v",
            "email": "email__v",
            "other": "other__v",
        },
        "call_status": {"planned": "planned__v", "saved": "saved__v", "submitted": "submitted__v"},
        # Vault CRM studies and sites: their own status field (clinical_study_status__v, …), whose values
        # say active, inactive, or deleted in Vault Clinical (defaults).
        "study_status": _VAULT_RECORD_STATUS,
        "site_status": _VAULT_RECORD_STATUS,
        "phase": {
            "phase_1": "phase_1__v",
            "phase_2": "phase_2__v",
            "phase_3": "phase_3__v",
            "phase_4": "phase_4__v",
            "not_applicable": "not_applicable__v",
        },
    },
}

_DEFAULTS: dict[str, dict[str, Any]] = {"salesforce": _SALESFORCE, "vault": _VAULT}


class CrmNames(Frozen):
    """Everything the mapping needs to know about how one CRM connection spells things."""

    platform: Platform
    interaction: InteractionNames
    clinical_study: ClinicalStudyNames
    clinical_site: ClinicalSiteNames
    account: AccountNames
    call: CallNames
    user: UserFields
    picklists: CrmPicklists

    @classmethod
    def defaults(cls, platform: Platform) -> CrmNames:
        return _defaults(platform)

    @classmethod
    def with_overrides(cls, platform: Platform, object_names: Mapping[str, Any] | None) -> CrmNames:
        """The platform defaults with a connection's ``object_names`` layered on (``INVALID_OBJECT_NAMES``)."""
        defaults = _defaults(platform)  # also refuses an unknown platform
        if object_names is None or (isinstance(object_names, Mapping) and not object_names):
            return defaults
        return build_names(
            cls, _DEFAULTS[platform], object_names, setting="object_names", fixed={"platform": platform}
        )

    @staticmethod
    def default_document(platform: Platform) -> dict[str, Any]:
        """The full defaults as an ``object_names`` document: every key an override may use."""
        return _defaults(platform).model_dump(mode="json", exclude={"platform"})

    def written_objects(self) -> frozenset[str]:
        """Objects only the bridge writes in this CRM: their change events are its own echoes."""
        return frozenset({self.interaction.object, self.clinical_study.object, self.clinical_site.object})

    def written_external_ids(self) -> tuple[str, ...]:
        """The external id fields of those objects: a record carrying one is the bridge's own."""
        return (self.interaction.external_id, self.clinical_study.external_id, self.clinical_site.external_id)


@cache
def _defaults(platform: Platform) -> CrmNames:
    if platform not in _DEFAULTS:
        raise ValueError(f"unknown CRM platform {platform!r}; expected one of {', '.join(_DEFAULTS)}")
    return build_names(
        CrmNames, _DEFAULTS[platform], {}, setting="object_names", fixed={"platform": platform}
    )
