"""Turn a JSON record body into stored values, with the platform's checks and error codes.

Problems with the body's shape (unknown field, a date that is not a date) fail the whole request, as the
platform's JSON reader does. Problems with one record's data (picklist, length, a parent that is not
there, a duplicate) are ``RecordError``s, which collection calls report per record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.simulators.salesforce.errors import (
    ApiError,
    MultipleMatches,
    RecordError,
    SaveError,
    json_parser_error,
    no_such_column,
)
from app.simulators.salesforce.formats import format_datetime, normalize_id, parse_date, parse_datetime
from app.simulators.salesforce.schema import TEXT_TYPES, FieldDef, FieldType, ObjectDef
from app.simulators.salesforce.store import Record, RecordStore

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ACCESS_MESSAGE = (
    "Unable to create/update fields: {names}. Please check the security settings of this field and verify "
    "that it is read/write for your profile or permission set."
)


def _coerce(field_def: FieldDef, value: Any) -> Any:
    """The value as the JSON reader would take it; a wrong JSON type fails the whole request."""
    if value is None:
        return None
    kind = field_def.type
    if kind in TEXT_TYPES or kind in (FieldType.ID, FieldType.REFERENCE):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return value or None  # the platform stores an empty string as null
        raise json_parser_error(f"Cannot deserialize instance of string from {_token(value)} value {value}")
    if kind == FieldType.DATE:
        if isinstance(value, str) and parse_date(value) is not None:
            return value
        raise json_parser_error(
            f"Cannot deserialize instance of date from VALUE_STRING value {value} or request may be missing a required field"
        )
    if kind == FieldType.DATETIME:
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            raise json_parser_error(
                f"Cannot deserialize instance of datetime from VALUE_STRING value {value} or request may be missing a required field"
            )
        return format_datetime(moment)
    if kind == FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        raise json_parser_error(f"Cannot deserialize instance of boolean from {_token(value)} value {value}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise json_parser_error(f"Cannot deserialize instance of double from {_token(value)} value {value}")


def _token(value: Any) -> str:
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_STRING" if isinstance(value, str) else "VALUE_NUMBER_INT"


def _check_value(store: RecordStore, field_def: FieldDef, value: Any) -> SaveError | None:
    if value is None:
        return None
    name, label = field_def.name, field_def.label
    if (
        field_def.type == FieldType.PICKLIST
        and field_def.restricted
        and value not in field_def.active_picklist
    ):
        return SaveError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{label}: bad value for restricted picklist field: {value}",
            (name,),
        )
    if field_def.type in TEXT_TYPES and field_def.length and len(value) > field_def.length:
        return SaveError(
            "STRING_TOO_LONG",
            f"{label}: data value too large: {value} (max length={field_def.length})",
            (name,),
        )
    if field_def.type == FieldType.EMAIL and not _EMAIL.fullmatch(value):
        return SaveError("INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", (name,))
    if field_def.type == FieldType.REFERENCE:
        return _check_reference_id(store, field_def, value)
    return None


def _check_reference_id(store: RecordStore, field_def: FieldDef, value: str) -> SaveError | None:
    full = normalize_id(value)
    if full is None:
        return SaveError(
            "MALFORMED_ID", f"{field_def.label}: id value of incorrect type: {value}", (field_def.name,)
        )
    target = store.schema.get(field_def.reference_to or "")
    if target is None or full[:3] != target.key_prefix:
        return SaveError(
            "FIELD_INTEGRITY_EXCEPTION",
            f"{field_def.label}: id value of incorrect type: {value}",
            (field_def.name,),
        )
    if store.get(target.name, full) is None:
        if store.get_deleted(target.name, full) is not None:  # in the recycle bin (deleted, or merged away)
            return SaveError("ENTITY_IS_DELETED", "entity is deleted", (field_def.name,))
        return SaveError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (field_def.name,))
    return None


def resolve_parent(store: RecordStore, ref: FieldDef, spec: Any) -> str | None:
    """``"Account_vod__r": {"External_ID_vod__c": "HCP-1"}`` -> the parent's id."""
    if spec is None:
        return None
    target = store.schema.get(ref.reference_to or "")
    if not isinstance(spec, dict) or target is None:
        raise json_parser_error(
            f"Cannot deserialize instance of {ref.reference_to} from {_token(spec)} value {spec}"
        )
    keys = [k for k in spec if k != "attributes"]
    if len(keys) != 1:
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"More than 1 field provided in an external foreign key reference in entity: {target.name}",
        )
    key_field = target.field(keys[0])
    if key_field is None:
        raise no_such_column(keys[0], target.name)
    if not key_field.external_id and key_field.name != "Id":
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"Field name provided, {key_field.name} is not an External ID or indexed field for {target.name}",
        )
    value = spec[keys[0]]
    matches = (
        [r for r in [store.get(target.name, str(value))] if r is not None]
        if key_field.name == "Id"
        else store.find(target.name, key_field, value)
    )
    if not matches:
        raise RecordError(
            SaveError(
                "INVALID_FIELD",
                f"Foreign key external ID: {value} not found for field {key_field.name} in entity {target.name}",
            )
        )
    if len(matches) > 1:
        ids = ", ".join(r["Id"] for r in matches)
        raise RecordError(
            SaveError(
                "DUPLICATE_EXTERNAL_ID",
                f"{key_field.label}: more than one record found for external id field: [{ids}]",
                (key_field.name,),
            )
        )
    parent_id: str = matches[0]["Id"]
    return parent_id


def prepare(store: RecordStore, obj: ObjectDef, body: Mapping[str, Any], *, creating: bool) -> Record:
    """Validate ``body`` (without ``attributes``) and return the values to store."""
    values: Record = {}
    problems: list[SaveError] = []
    not_writable: list[str] = []
    for key, raw in body.items():
        if key == "attributes":
            continue
        field_def = obj.field(key)
        if field_def is None:
            ref = obj.relationship(key)
            if ref is None:
                raise no_such_column(key, obj.name)
            if not (ref.createable if creating else ref.updateable):
                not_writable.append(ref.name)
                continue
            try:
                values[ref.name] = resolve_parent(store, ref, raw)
            except RecordError as exc:
                problems.extend(exc.errors)
            continue
        if field_def.name == "Id" and creating:
            problems.append(SaveError("INVALID_FIELD", "cannot specify Id in an insert call", ("Id",)))
            continue
        value = _coerce(field_def, raw)
        if not (field_def.createable if creating else field_def.updateable):
            not_writable.append(field_def.name)
            continue
        problem = _check_value(store, field_def, value)
        if problem is not None:
            problems.append(problem)
        values[field_def.name] = value
    if not_writable:
        names = ", ".join(not_writable)
        problems.insert(
            0,
            SaveError(
                "INVALID_FIELD_FOR_INSERT_UPDATE", _ACCESS_MESSAGE.format(names=names), tuple(not_writable)
            ),
        )
    if problems:
        raise RecordError(*problems)
    return values


def _complete(store: RecordStore, obj: ObjectDef, merged: Record, *, own_id: str | None) -> None:
    """Derived names, required fields and unique values, checked on the record as it would be saved."""
    if obj.name_from is not None:
        first, last = (merged.get(n) for n in obj.name_from)
        if last:
            merged["Name"] = " ".join(p for p in (first, last) if p)
    missing = [
        f.name
        for f in obj.fields.values()
        if not f.nillable and f.createable and f.type != FieldType.BOOLEAN and merged.get(f.name) is None
    ]
    if missing:
        raise RecordError(
            SaveError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                tuple(missing),
            )
        )
    for f in obj.fields.values():
        if f.unique and merged.get(f.name) is not None:
            others = [r for r in store.find(obj.name, f, merged[f.name]) if r["Id"] != own_id]
            if others:
                raise RecordError(
                    SaveError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {f.name} duplicates value on record with id: {others[0]['Id']}",
                    )
                )


def create(
    store: RecordStore, obj: ObjectDef, body: Mapping[str, Any], *, user_id: str, now: datetime
) -> Record:
    values = prepare(store, obj, body, creating=True)
    if obj.name == "User":
        values.setdefault("IsActive", True)
    merged = {**dict.fromkeys(obj.fields), **values}
    _complete(store, obj, merged, own_id=None)
    values.update({k: merged[k] for k in ("Name",) if k in obj.fields and merged.get(k) is not None})
    return store.insert(obj, values, user_id=user_id, now=now)


def update(
    store: RecordStore,
    obj: ObjectDef,
    record_id: str,
    body: Mapping[str, Any],
    *,
    user_id: str,
    now: datetime,
) -> Record:
    existing = store.live[obj.name][record_id]
    values = prepare(store, obj, {k: v for k, v in body.items() if k.lower() != "id"}, creating=False)
    merged = {**existing, **values}
    _complete(store, obj, merged, own_id=record_id)
    if obj.name_from is not None and merged.get("Name") != existing.get("Name"):
        values["Name"] = merged["Name"]
    return store.update(obj, record_id, values, user_id=user_id, now=now)


def external_id_field(obj: ObjectDef, name: str) -> FieldDef | None:
    field_def = obj.field(name)
    return field_def if field_def is not None and field_def.external_id else None


def upsert(
    store: RecordStore,
    obj: ObjectDef,
    key: FieldDef,
    value: str,
    body: Mapping[str, Any],
    *,
    user_id: str,
    now: datetime,
) -> tuple[Record, bool]:
    """Create or update by external id; ``(record, created)``. Several matches raise ``MultipleMatches``."""
    same_key = [k for k in body if k.lower() == key.name.lower()]
    if any(text_differs(body[k], value) for k in same_key):
        raise RecordError(
            SaveError(
                "INVALID_FIELD", f"The value of {key.name} in the body does not match the value in the URL"
            )
        )
    matches = store.find(obj.name, key, value)
    if len(matches) > 1:
        raise MultipleMatches(obj.name, key.name, value, [r["Id"] for r in matches])
    rest = {k: v for k, v in body.items() if k not in same_key}
    if matches:
        return update(store, obj, matches[0]["Id"], rest, user_id=user_id, now=now), False
    return create(store, obj, {**rest, key.name: value}, user_id=user_id, now=now), True


def text_differs(given: Any, value: str) -> bool:
    return not isinstance(given, str) or given.casefold() != value.casefold()
