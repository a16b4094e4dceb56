"""Study Site -> Clinical Site (F6) and its deletion (F7), keyed by the CTMS site id."""

from __future__ import annotations

from app.domain.ctms import CtmsSite
from app.domain.errors import ReferenceUnresolved, record_label
from app.domain.names import CrmNames
from app.domain.upsert import FieldValue, TargetUpsert
from app.domain.values import crm_site_status_value
from app.domain.vocabulary import RecordStatus


def site_to_clinical_site(
    site: CtmsSite, names: CrmNames, study_ref: str, country_name: str | None
) -> TargetUpsert:
    """F6: ``study_ref`` is the CRM id of the site's Clinical Study (pushed first if missing);
    ``country_name`` is the name of the site's study country, which the engine reads."""
    if not study_ref:
        raise ReferenceUnresolved(record_label(site.object_name, site.id), "Clinical Study", site.study_id)
    target = names.clinical_site
    fields = target.fields
    values: dict[str, FieldValue] = {
        fields.name: site.name,
        fields.status: crm_site_status_value(site.status, names) if site.status else None,
        fields.clinical_study: study_ref,
        fields.country: country_name or None,
    }
    return TargetUpsert(object=target.object, id_field=target.external_id, id_value=site.id, fields=values)


def site_deletion(site_id: str, names: CrmNames) -> TargetUpsert:
    """F7: the Clinical Site's status becomes "Deleted in Vault Clinical"; never created by a deletion."""
    target = names.clinical_site
    if not site_id:
        raise ValueError("site_id must be a non-empty id")
    deleted = crm_site_status_value(RecordStatus.DELETED_IN_VAULT_CLINICAL, names)
    return TargetUpsert(
        object=target.object,
        id_field=target.external_id,
        id_value=site_id,
        fields={target.fields.status: deleted},
        allow_create=False,
    )
