"""What to send to ``/_sim/records``: example bodies and each object's fields, written into the OpenAPI.

The text is made from the vault's own schema, so it lists exactly the fields, required fields and picklist
values this simulator accepts. References can be given by a unique field of the target
(``person__vr.external_id__v``), which is what lets the examples chain without knowing record ids.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.simulators.common.guide import install_teaching
from app.simulators.vault.schema import FieldType, NameMode, ObjectSchema, SchemaRegistry

STUDY, SITE, HCP = "VVT485-301", "SITE-101", "HCP-1001"

# In dependency order: each one's references exist once the ones before it are created.
EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "ctms": {
        "study__v": {
            "name__v": STUDY,
            "external_id__v": STUDY,
            "phase__v": "phase_3__v",
            "study_status__v": "active__v",
        },
        "site__v": {
            "name__v": "Site 101 Berlin",
            "external_id__v": SITE,
            "study__vr.external_id__v": STUDY,
            "country__v": "Germany",
            "site_status__v": "enrolling__v",
        },
        "person__sys": {
            "first_name__sys": "Rosa",
            "last_name__sys": "Lind",
            "email__sys": "rosa.lind@example.com",
            "external_id__v": HCP,
        },
        "crm_activity__v": {
            "object_type__v.api_name__v": "clinical_activity__v",
            "person__vr.external_id__v": HCP,
            "study__vr.external_id__v": STUDY,
            "site__vr.external_id__v": SITE,
            "activity_date__v": "2026-11-19",
            "channel__v": "video__v",
            "complete__v": True,
            "subject__v": "Protocol Q&A",
        },
        "monitoring_event__v": {
            "name__v": "IMV 3 - Site 101",
            "person__vr.external_id__v": HCP,
            "study__vr.external_id__v": STUDY,
            "site__vr.external_id__v": SITE,
            "monitoring_visit_method__v": "on_site__v",
            "planned_visit_start_date__v": "2026-12-01",
        },
        "study_communication_log__ctms": {
            "subject__v": "Enrolment question",
            "person__vr.external_id__v": HCP,
            "study__vr.external_id__v": STUDY,
            "communication_date__v": "2026-11-21",
            "communication_method__v": "email__v",
        },
    },
    "crm": {
        "account__v": {"first_name__v": "Rosa", "last_name__v": "Lind", "external_id__v": HCP},
        "call2__v": {
            "account__vr.external_id__v": HCP,
            "call_date__v": "2026-11-18",
            "call_channel__v": "phone__v",
            "call2_status__v": "submitted__v",
            "subject__v": "Safety follow-up",
        },
    },
}


def describe_objects(registry: SchemaRegistry) -> str:
    """One Markdown paragraph per object: required fields, picklists with their values, references."""
    return "\n".join(_object_text(obj) for obj in registry if obj.name not in ("user__sys", "object_type__v"))


def _object_text(obj: ObjectSchema) -> str:
    editable = [f for f in obj.fields.values() if f.editable and f.type is not FieldType.ID]
    required = [f.name for f in editable if f.required]
    if obj.name_mode is NameMode.PERSON:
        required = [n for n in required if n != "name__v"]
    parts = [f"- **`{obj.name}`** ({obj.label})"]
    parts.append("required: " + (", ".join(f"`{n}`" for n in required) or "nothing"))
    if obj.object_types:
        parts.append(
            "`object_type__v`: a type's id (query target `object_type__v`), or by name "
            "`object_type__v.api_name__v`: " + " | ".join(f"`{t}`" for t in obj.object_types)
        )
    for f in editable:
        if f.type is FieldType.PICKLIST:
            parts.append(f"`{f.name}`: " + " | ".join(f"`{v}`" for v in f.picklist))
    refs = [
        f"`{f.name}` → {f.target}"
        for f in editable
        if f.type is FieldType.OBJECT and f.name != "object_type__v"
    ]
    if refs:
        parts.append("references (an id, or `<field>r.<unique field>`): " + ", ".join(refs))
    others = [
        f"`{f.name}` ({f.type.value})"
        for f in editable
        if f.type not in (FieldType.PICKLIST, FieldType.OBJECT)
    ]
    if others:
        parts.append("other fields: " + ", ".join(others))
    return "; ".join(parts)


def install_guide(app: FastAPI, registry: SchemaRegistry, flavor: str) -> None:
    """Add the vault's object list and one example body per object to the record routes' OpenAPI."""

    def lesson() -> tuple[str, dict[str, Any]]:
        examples = {
            name: {"summary": f"a {obj.label}", "value": body}
            for name, body in EXAMPLES.get(flavor, {}).items()
            if (obj := registry.get(name)) is not None
        }
        return describe_objects(registry), examples

    install_teaching(app, RECORD_PATHS, PICKLIST_RULE, lesson)


RECORD_PATHS = ("/_sim/records/{object_name}", "/_sim/records/{object_name}/{record_id}")


PICKLIST_RULE = (
    "Fields each object takes (picklists list their values; `GET /_sim/picklists` shows which are "
    "active now). A value outside a picklist is refused with 422 `INVALID_DATA` naming the valid "
    "values."
)
