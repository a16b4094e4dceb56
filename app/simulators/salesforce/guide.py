"""What to send to ``/_sim/records``: example bodies and each object's fields, written into the OpenAPI.

Made from the org's schema, so it lists exactly the fields, required fields and picklist values this
simulator accepts. A parent can be given by an external id (``"Account_vod__r": {"External_ID_vod__c":
...}``), which lets the examples chain without knowing record ids.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.simulators.common.guide import install_teaching
from app.simulators.salesforce.schema import FieldType, ObjectDef, Schema

HCP = "HCP-1001"

# In dependency order: the call's account exists once the account example is created.
EXAMPLES: dict[str, dict[str, Any]] = {
    "Account": {
        "FirstName": "Rosa",
        "LastName": "Lind",
        "PersonEmail": "rosa.lind@example.com",
        "External_ID_vod__c": HCP,
    },
    "Call2_vod__c": {
        "Account_vod__r": {"External_ID_vod__c": HCP},
        "Call_Date_vod__c": "2026-11-18",
        "Call_Channel_vod__c": "Phone_vod",
        "Status_vod__c": "Submitted_vod",
        "Subject_vod__c": "Safety follow-up",
    },
}
RECORD_PATHS = ("/_sim/records/{sobject}", "/_sim/records/{sobject}/{record_id}")
SKIPPED = frozenset({"User"})


def describe_objects(schema: Schema) -> str:
    """One Markdown line per object: required fields, picklists with their values, references."""
    return "\n".join(_object_text(obj) for obj in schema.objects.values() if obj.name not in SKIPPED)


def _object_text(obj: ObjectDef) -> str:
    writable = [f for f in obj.fields.values() if f.createable]
    required = [
        f.name
        for f in writable
        if not f.nillable and f.type != FieldType.BOOLEAN and not (obj.name_from and f.name == "Name")
    ]
    if obj.name_from:
        required.append(obj.name_from[1])  # a person account's Name comes from its first and last names
    parts = [f"- **`{obj.name}`** ({obj.label})"]
    parts.append("required: " + (", ".join(f"`{n}`" for n in required) or "nothing"))
    for f in writable:
        if f.type == FieldType.PICKLIST:
            kind = "restricted picklist" if f.restricted else "picklist"
            parts.append(f"`{f.name}` ({kind}): " + " | ".join(f"`{v}`" for v in f.picklist))
    refs = [
        f"`{f.name}` → {f.reference_to} (or `{f.relationship_name}`: {{external id field: value}})"
        for f in writable
        if f.type == FieldType.REFERENCE and f.name != "OwnerId"
    ]
    if refs:
        parts.append("references: " + ", ".join(refs))
    others = [
        f"`{f.name}` ({f.type.value})"
        for f in writable
        if f.type not in (FieldType.PICKLIST, FieldType.REFERENCE) and f.name not in required
    ]
    if others:
        parts.append("other fields: " + ", ".join(others))
    return "; ".join(parts)


def install_guide(app: FastAPI, schema: Schema) -> None:
    """Add the org's object list and example bodies to the record routes of ``app``'s OpenAPI."""

    def lesson() -> tuple[str, dict[str, Any]]:
        examples = {
            name: {"summary": f"a {obj.label}", "value": body}
            for name, body in EXAMPLES.items()
            if (obj := schema.get(name)) is not None
        }
        return describe_objects(schema), examples

    install_teaching(app, RECORD_PATHS, PICKLIST_RULE, lesson)


PICKLIST_RULE = (
    "Fields each object takes (`GET /_sim/picklists/{sobject}/{field}` shows which picklist "
    "values are active now). A value outside a restricted picklist is refused with 400 "
    "`INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`, as the platform does."
)
