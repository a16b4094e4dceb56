"""The mark each deletion leaves in its target (SPEC.md F2, F4, F7), as the fields a deletion writes: what
a reconciliation expects to find on a record the bridge marked deleted, whatever else people edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.mapping.activities import interaction_deletion, medical_activity_inactivation
from app.domain.mapping.sites import site_deletion
from app.domain.mapping.studies import study_deletion
from app.domain.names import CrmNames, CtmsNames


def deletion_mark(
    target_object: str,
    source_id: str,
    last_fields: Mapping[str, Any],
    *,
    connection_id: str,
    names: CrmNames,
    ctms_names: CtmsNames,
) -> dict[str, Any] | None:
    """The fields the deletion of `source_id` writes into `target_object`, or None when deletions leave no
    mark there (F8's activities). Marking is idempotent: from the last subject, marked or not, the same."""
    if target_object == names.interaction.object:
        subject = last_fields.get(names.interaction.fields.subject)
        upsert = interaction_deletion(source_id, subject if isinstance(subject, str) else None, names)
    elif target_object == names.clinical_study.object:
        upsert = study_deletion(source_id, names)
    elif target_object == names.clinical_site.object:
        upsert = site_deletion(source_id, names)
    elif target_object == ctms_names.activity.object and connection_id != "ctms":
        upsert = medical_activity_inactivation(connection_id, source_id, ctms_names)
    else:
        return None
    return dict(upsert.fields)
