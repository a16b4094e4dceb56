"""Study -> Clinical Study (F5) and its deletion (F7), keyed by the CTMS study id."""

from __future__ import annotations

from app.domain.ctms import CtmsStudy
from app.domain.names import CrmNames
from app.domain.upsert import FieldValue, TargetUpsert
from app.domain.values import crm_phase_value, crm_study_status_value
from app.domain.vocabulary import RecordStatus


def study_to_clinical_study(study: CtmsStudy, names: CrmNames) -> TargetUpsert:
    """F5: created when the CRM has no Clinical Study with this id, updated otherwise. A study without
    a status or phase clears the CRM's value (the CTMS is the source of truth)."""
    target = names.clinical_study
    fields = target.fields
    values: dict[str, FieldValue] = {
        fields.name: study.name,
        fields.status: crm_study_status_value(study.status, names) if study.status else None,
        fields.phase: crm_phase_value(study.phase, names) if study.phase else None,
    }
    return TargetUpsert(object=target.object, id_field=target.external_id, id_value=study.id, fields=values)


def study_deletion(study_id: str, names: CrmNames) -> TargetUpsert:
    """F7: the Clinical Study's status becomes "Deleted in Vault Clinical"; one the CRM never had is not
    created (``allow_create`` False)."""
    target = names.clinical_study
    if not study_id:
        raise ValueError("study_id must be a non-empty id")
    deleted = crm_study_status_value(RecordStatus.DELETED_IN_VAULT_CLINICAL, names)
    return TargetUpsert(
        object=target.object,
        id_field=target.external_id,
        id_value=study_id,
        fields={target.fields.status: deleted},
        allow_create=False,
    )
