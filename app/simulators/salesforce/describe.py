"""Describe results: enough of the platform's shape for a client to check objects and fields exist and
can be written (``createable``/``updateable``), read picklist values, references and external ids."""

from __future__ import annotations

from typing import Any

from app.simulators.salesforce.schema import FieldDef, FieldType, ObjectDef, Schema

_SOAP_TYPES = {
    FieldType.ID: "tns:ID",
    FieldType.REFERENCE: "tns:ID",
    FieldType.DATE: "xsd:date",
    FieldType.DATETIME: "xsd:dateTime",
    FieldType.BOOLEAN: "xsd:boolean",
    FieldType.DOUBLE: "xsd:double",
}


def describe_field(f: FieldDef) -> dict[str, Any]:
    return {
        "name": f.name,
        "label": f.label,
        "type": f.type.value,
        "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
        "length": f.length,
        "createable": f.createable,
        "updateable": f.updateable,
        "nillable": f.nillable,
        "custom": f.custom,
        "externalId": f.external_id,
        "unique": f.unique,
        "idLookup": f.external_id or f.name == "Id",
        "caseSensitive": False,
        "autoNumber": f.auto_number_prefix is not None,
        "calculated": False,
        "defaultedOnCreate": f.name in ("Id", "IsDeleted", "OwnerId") or f.type == FieldType.BOOLEAN,
        "filterable": True,
        "sortable": True,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": False,
                "label": value.removesuffix("_vod").replace("_", " "),
                "validFor": None,
                "value": value,
            }
            for value in f.active_picklist  # a deactivated value is not described
        ],
        "restrictedPicklist": f.restricted,
        "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship_name,
    }


def _urls(version: str, name: str) -> dict[str, str]:
    base = f"/services/data/{version}/sobjects/{name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "keyPrefix": obj.key_prefix,
        "custom": obj.custom,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "retrieveable": True,
        "replicateable": True,
        "searchable": True,
        "urls": _urls(version, obj.name),
    }


def describe_object(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        **_summary(obj, version),
        "fields": [describe_field(f) for f in obj.fields.values()],
        "childRelationships": [],
        "recordTypeInfos": [],
    }


def object_info(obj: ObjectDef, version: str) -> dict[str, Any]:
    """``GET .../sobjects/{object}/``: the summary and recently viewed items (none, for an API user)."""
    return {"objectDescribe": _summary(obj, version), "recentItems": []}


def global_describe(schema: Schema, version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_summary(obj, version) for obj in schema.objects.values()],
    }
