"""Activities both ways: Clinical Activity -> Vault Clinical Interaction (F1, F2) and CRM call -> Medical
Activity (F3, F4), SPEC.md sections 2 and 3."""

from __future__ import annotations

from app.domain.crm import CrmCall
from app.domain.ctms import CtmsActivity
from app.domain.dates import format_date
from app.domain.errors import (
    ActivityLevelMissing,
    PersonMissing,
    ReferenceUnresolved,
    WrongObjectType,
    record_label,
)
from app.domain.names import CrmNames, CtmsNames
from app.domain.upsert import FieldValue, TargetUpsert
from app.domain.users import VaultUser, format_from
from app.domain.values import crm_channel_value, crm_status_for_complete, ctms_channel_value

DELETED_MARK = "Deleted"


def _require_id(value: str | None, what: str) -> str:
    # The engine resolves these ids before calling; an empty one is a bug in the caller, not bad data.
    if not value:
        raise ValueError(f"{what} must be a non-empty id")
    return value


def clinical_activity_to_interaction(
    activity: CtmsActivity,
    *,
    names: CrmNames,
    account_id: str,
    study_ref: str | None,
    site_ref: str | None,
    created_by: VaultUser | None,
    sync_studies_and_sites: bool,
) -> TargetUpsert:
    """F1: the interaction upsert, keyed by the activity id. ``account_id``, ``study_ref`` and
    ``site_ref`` are CRM record ids the engine resolved; ``created_by`` is the activity's creator.

    Study/site references are written only when the connection syncs studies and sites; then a
    referenced level without its CRM id is ``REFERENCE_UNRESOLVED`` (the parent must be pushed first).
    """
    label = record_label(activity.object_name, activity.id)
    if activity.kind != "clinical_activity":
        raise WrongObjectType(activity.object_name, activity.id, activity.object_type, "Clinical Activity")
    if not activity.person_id:
        raise PersonMissing(activity.object_name, activity.id)
    if not activity.logged_against_a_level:
        raise ActivityLevelMissing(activity.object_name, activity.id)
    fields = names.interaction.fields
    values: dict[str, FieldValue] = {
        fields.account: _require_id(account_id, "account_id"),
        fields.date: format_date(activity.activity_date),
        fields.channel: crm_channel_value(activity.channel, names),
        fields.status: crm_status_for_complete(activity.complete, names),
        fields.sender: format_from(created_by),
        fields.subject: activity.subject,
    }
    if sync_studies_and_sites:
        if activity.study_id and not study_ref:
            raise ReferenceUnresolved(label, "Clinical Study", activity.study_id)
        if activity.site_id and not site_ref:
            raise ReferenceUnresolved(label, "Clinical Site", activity.site_id)
        values[fields.clinical_study] = study_ref or None
        values[fields.clinical_site] = site_ref or None
    return TargetUpsert(
        object=names.interaction.object,
        id_field=names.interaction.external_id,
        id_value=activity.id,
        fields=values,
    )


def mark_interaction_deleted(subject: str | None) -> str:
    """F2: ``"<subject> Deleted"``, once. A subject already ending in the word ``Deleted`` is returned as
    it is (trailing spaces trimmed), so marking twice changes nothing; no subject gives ``"Deleted"``."""
    base = (subject or "").rstrip()
    if base == DELETED_MARK or base.endswith(" " + DELETED_MARK):
        return base
    return f"{base} {DELETED_MARK}" if base else DELETED_MARK


def interaction_deletion(activity_id: str, last_subject: str | None, names: CrmNames) -> TargetUpsert:
    """F2: a partial update of the interaction: only its subject, marked. Never creates, never deletes.
    ``last_subject`` is the subject last sent (or the CRM's current one; marking is idempotent)."""
    fields: dict[str, FieldValue] = {names.interaction.fields.subject: mark_interaction_deleted(last_subject)}
    return TargetUpsert(
        object=names.interaction.object,
        id_field=names.interaction.external_id,
        id_value=_require_id(activity_id, "activity_id"),
        fields=fields,
        allow_create=False,
    )


def medical_activity_external_id(connection_id: str, call_id: str) -> str:
    """``{connection_id}:{crm call id}`` (CONTRACT.md section 3): one Medical Activity per call per org."""
    return f"{_require_id(connection_id, 'connection_id')}:{_require_id(call_id, 'call_id')}"


def crm_call_to_medical_activity(
    call: CrmCall, *, connection_id: str, person_id: str, ctms_names: CtmsNames
) -> TargetUpsert:
    """F3: the Medical Activity upsert, keyed by ``external_id__v``. Sending a call again re-activates it."""
    activity = ctms_names.activity
    fields = activity.fields
    picklists = ctms_names.picklists
    values: dict[str, FieldValue] = {
        fields.object_type: picklists.medical_activity,
        fields.status: picklists.active,
        fields.person: _require_id(person_id, "person_id"),
        fields.date: format_date(call.call_date),
        fields.channel: ctms_channel_value(call.channel, ctms_names),
        fields.complete: call.complete,
        fields.sender: format_from(call.created_by),
        fields.subject: call.subject,
    }
    return TargetUpsert(
        object=activity.object,
        id_field=fields.external_id,
        id_value=medical_activity_external_id(connection_id, call.id),
        fields=values,
    )


def medical_activity_inactivation(connection_id: str, call_id: str, ctms_names: CtmsNames) -> TargetUpsert:
    """F4: the call was deleted in the CRM, so its Medical Activity becomes inactive (never deleted)."""
    fields = ctms_names.activity.fields
    return TargetUpsert(
        object=ctms_names.activity.object,
        id_field=fields.external_id,
        id_value=medical_activity_external_id(connection_id, call_id),
        fields={fields.status: ctms_names.picklists.inactive},
        allow_create=False,
    )
