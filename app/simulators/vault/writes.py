"""Create, upsert and update of object records, with Vault's per-record results.

Batch rules (request-level FAILURE): a JSON array, at most 500 records, an ``idParam`` that names a
unique field, and (upsert) no repeated idParam value. Record rules (per-record FAILURE, the rest of the
batch still applies): known and editable fields, valid values, existing references, unique values. A
write that changes nothing is a per-record WARNING ``NO_DATA_CHANGES`` and leaves the record untouched.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from app.simulators.vault import responses as r
from app.simulators.vault.schema import FieldType, NameMode, ObjectSchema
from app.simulators.vault.values import InvalidValue, normalize

if TYPE_CHECKING:
    from app.simulators.vault.state import VaultState

SUCCESS, WARNING, FAILURE = "SUCCESS", "WARNING", "FAILURE"


class WriteMode(StrEnum):
    CREATE = "create"  # POST /vobjects/{object}
    UPSERT = "upsert"  # POST /vobjects/{object}?idParam=field
    UPDATE = "update"  # PUT /vobjects/{object}


@dataclass
class Change:
    """A record that was created, updated or deleted: what the event emitter announces."""

    kind: Literal["created", "updated", "deleted"]
    object: str
    record: dict[str, Any]  # the stored record after the change (before it, for a deletion)
    at: str  # modified_date__v of the change, or the deletion time


@dataclass
class RowResult:
    status: str = FAILURE
    record_id: str | int | None = None
    event: str | None = None  # created__sys / updated__sys
    id_param_value: Any = None
    errors: list[dict[str, str]] = field(default_factory=list)
    change: Change | None = None

    def fail(self, *errors: dict[str, str]) -> RowResult:
        self.status, self.errors = FAILURE, list(errors)
        return self

    def render(self, records_url: str, *, id_param: str | None, with_event: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"responseStatus": self.status}
        if self.status == FAILURE:
            if id_param:
                out["data"] = {"id_param_value": self.id_param_value}
            out["errors"] = self.errors
            return out
        if self.status == WARNING:
            out["warnings"] = [
                {"warning_type": r.NO_DATA_CHANGES, "message": "No changes in values - record not updated"}
            ]
        data: dict[str, Any] = {"id": self.record_id, "url": f"{records_url}/{self.record_id}"}
        if with_event and self.event:
            data["event"] = self.event
        if id_param:
            data["id_param_value"] = self.id_param_value
        out["data"] = data
        return out


def check_batch(
    state: VaultState, schema: ObjectSchema, rows: Any, id_param: str | None, mode: WriteMode
) -> list[Any]:
    """Request-level checks; raises VaultError, which answers FAILURE for the whole batch."""
    if not isinstance(rows, list):
        raise r.VaultError(r.INVALID_DATA, "The request body must be a JSON array of records")
    if not rows:
        raise r.VaultError(r.INVALID_DATA, "The request contains no records")
    if len(rows) > state.config.max_batch_size:
        raise r.VaultError(
            r.INVALID_DATA,
            f"Batch of {len(rows)} records exceeds the maximum of {state.config.max_batch_size}",
        )
    if id_param is not None:
        f = schema.field(id_param)
        if id_param != "id" and (f is None or not f.unique):
            raise r.VaultError(
                r.INVALID_DATA, f"idParam [{id_param}] is not a unique field of [{schema.name}]"
            )
        if mode is WriteMode.UPSERT:
            keys = [
                str(row[id_param])
                for row in rows
                if isinstance(row, dict) and row.get(id_param) not in (None, "")
            ]
            repeated = sorted(k for k, n in Counter(keys).items() if n > 1)
            if repeated:
                raise r.VaultError(r.INVALID_DATA, f"Duplicate values for idParam [{id_param}]: {repeated}")
    return rows


def write_rows(
    state: VaultState,
    schema: ObjectSchema,
    rows: list[Any],
    mode: WriteMode,
    id_param: str | None,
    actor: int,
) -> list[RowResult]:
    """Apply each record in order; results come back in input order."""
    seen: set[str] = set()
    results = []
    for row in rows:
        results.append(_write_one(state, schema, row, mode, id_param, actor, seen))
    return results


def _write_one(
    state: VaultState,
    schema: ObjectSchema,
    row: Any,
    mode: WriteMode,
    id_param: str | None,
    actor: int,
    seen: set[str],
) -> RowResult:
    result = RowResult()
    if not isinstance(row, dict):
        return result.fail(r.error(r.INVALID_DATA, "Each record must be a JSON object"))
    key_field = id_param or ("id" if mode is WriteMode.UPDATE else None)
    existing: dict[str, Any] | None = None
    if key_field is not None:
        key = row.get(key_field)
        result.id_param_value = key if id_param else None
        if key in (None, ""):
            return result.fail(r.error(r.PARAMETER_REQUIRED, f"Missing required field [{key_field}]"))
        if mode is WriteMode.UPDATE:
            if str(key) in seen:  # an id may be updated once per request; repeats fail
                return result.fail(r.error(r.INVALID_DATA, f"Duplicate record [{key}] in the request"))
            seen.add(str(key))
        existing = (
            state.get(schema.name, key) if key_field == "id" else state.find(schema.name, key_field, key)
        )
        if existing is None and mode is WriteMode.UPDATE:
            return result.fail(r.error(r.INVALID_DATA, f"The resource [{key}] does not exist"))
        if existing is None and key_field == "id":
            return result.fail(r.error(r.INVALID_DATA, "Invalid id"))
    changes, errors = collect_changes(
        state, schema, row, existing, skip={"id"} if key_field == "id" else set()
    )
    if errors:
        return result.fail(*errors)
    if existing is None:
        return _create(state, schema, changes, actor, result)
    return _update(state, schema, existing, changes, actor, result)


def collect_changes(
    state: VaultState,
    schema: ObjectSchema,
    row: dict[str, Any],
    existing: dict[str, Any] | None,
    skip: set[str],
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Validate every field of ``row``; return the stored-form values and every error found."""
    changes: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for key, raw in row.items():
        if key in skip:
            continue
        try:
            name, value = _one_field(state, schema, key, raw, existing)
        except _FieldError as exc:
            errors.append(r.error(exc.type, exc.message))
            continue
        changes[name] = value
    for name, value in changes.items():
        f = schema.field(name)
        if f is not None and f.unique and value is not None:
            other = state.find(schema.name, name, value)
            if other is not None and (existing is None or other["id"] != existing["id"]):
                errors.append(r.error(r.INVALID_DATA, f"Duplicate value [{value}] for unique field [{name}]"))
    return changes, errors


class _FieldError(Exception):
    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type, self.message = type_, message


def _one_field(
    state: VaultState, schema: ObjectSchema, key: str, raw: Any, existing: dict[str, Any] | None
) -> tuple[str, Any]:
    if key in (TYPE, TYPE_BY_NAME) and schema.object_types:
        return TYPE, _object_type(state, schema, key, raw, existing)
    if "." in key:  # a reference given by a unique field of the target: person__vr.external_id__v
        return _by_relationship(state, schema, key, raw)
    f = schema.field(key)
    if f is None:
        raise _FieldError(
            r.ATTRIBUTE_NOT_SUPPORTED, f"Field [{key}] is not supported on object [{schema.name}]"
        )
    if not f.editable:
        raise _FieldError(r.INVALID_DATA, f"Field [{key}] is not editable")
    target = state.object_schema(f.target) if f.target else None
    try:
        value = normalize(
            f,
            raw,
            numeric_target=bool(target and target.numeric_ids),
            inactive=state.inactive_picklist_values.get(f.picklist_ref, ()),
        )
    except InvalidValue as exc:
        raise _FieldError(r.INVALID_DATA, str(exc)) from None
    if f.type is FieldType.OBJECT and value is not None and state.get(f.target or "", value) is None:
        raise _FieldError(
            r.INVALID_DATA, f"Invalid value [{value}] for field [{key}]: no such [{f.target}] record"
        )
    return key, value


TYPE, TYPE_BY_NAME = "object_type__v", "object_type__v.api_name__v"


def _object_type(
    state: VaultState, schema: ObjectSchema, key: str, raw: Any, existing: dict[str, Any] | None
) -> str:
    """Create Object Records takes a type by id (``object_type__v``) or by name
    (``object_type__v.api_name__v``); the record stores the id. A name in ``object_type__v`` is refused,
    as Vault refuses it."""
    if key == TYPE_BY_NAME:
        try:
            type_id = state.object_type_id(schema.name, str(raw))
        except KeyError:
            raise _FieldError(
                r.INVALID_DATA, f"Invalid object type [{raw}] for object [{schema.name}]"
            ) from None
    elif state.object_type_name(schema.name, raw) is not None:
        type_id = str(raw)
    else:
        valid = ", ".join(f"{t['id']} ({t['api_name__v']})" for t in state.object_types_of(schema.name))
        raise _FieldError(
            r.INVALID_DATA,
            f"Invalid object type id [{raw}] for object [{schema.name}]; valid ids: {valid}; "
            f"to give a type by name, use [{TYPE_BY_NAME}]",
        )
    if existing is not None and existing.get(TYPE) != type_id:
        raise _FieldError(r.OPERATION_NOT_ALLOWED, "Changing the object type requires Record Migration Mode")
    return type_id


def _by_relationship(state: VaultState, schema: ObjectSchema, key: str, raw: Any) -> tuple[str, Any]:
    relationship, _, lookup = key.partition(".")
    f = schema.relationship(relationship)
    if f is None or not f.editable or f.target is None:
        raise _FieldError(
            r.ATTRIBUTE_NOT_SUPPORTED, f"Field [{key}] is not supported on object [{schema.name}]"
        )
    target_schema = state.object_schema(f.target)
    lookup_field = target_schema.field(lookup) if target_schema else None
    if lookup_field is None or not (lookup_field.unique or lookup == "id"):
        raise _FieldError(r.INVALID_DATA, f"[{lookup}] is not a unique field of [{f.target}]")
    if raw in (None, ""):
        return f.name, None
    target = state.find(f.target, lookup, raw)
    if target is None:
        raise _FieldError(r.INVALID_DATA, f"No [{f.target}] record has {lookup} [{raw}]")
    return f.name, target["id"]


def _create(
    state: VaultState, schema: ObjectSchema, changes: dict[str, Any], actor: int, result: RowResult
) -> RowResult:
    record: dict[str, Any] = {}
    for f in schema.fields.values():
        if f.default is not None:
            record[f.name] = normalize(f, f.default)
    if schema.object_types:  # the default type, by id
        record[TYPE] = state.object_type_id(schema.name, schema.object_types[0])
    record.update(changes)
    missing = [
        f.name for f in schema.fields.values() if f.required and f.editable and record.get(f.name) is None
    ]
    if missing:
        return result.fail(*(r.error(r.PARAMETER_REQUIRED, f"Missing required field [{m}]") for m in missing))
    record_id = state.new_id(schema)
    stamp = r.iso_millis(state.now())
    record.update(
        id=record_id, created_date__v=stamp, modified_date__v=stamp, created_by__v=actor, modified_by__v=actor
    )
    record["name__v"] = _name(schema, record, record_id)
    state.table(schema.name)[str(record_id)] = record
    result.status, result.record_id, result.event = SUCCESS, record_id, "created__sys"
    result.change = Change("created", schema.name, dict(record), stamp)
    return result


def _update(
    state: VaultState,
    schema: ObjectSchema,
    existing: dict[str, Any],
    changes: dict[str, Any],
    actor: int,
    result: RowResult,
) -> RowResult:
    result.record_id = existing["id"]
    effective = {k: v for k, v in changes.items() if existing.get(k) != v}
    if not effective:  # a no-op: Vault keeps modified_date__v and runs no triggers
        result.status = WARNING
        return result
    merged = {**existing, **effective}
    cleared = [
        f.name for f in schema.fields.values() if f.required and f.editable and merged.get(f.name) is None
    ]
    if cleared:
        return result.fail(*(r.error(r.PARAMETER_REQUIRED, f"Missing required field [{m}]") for m in cleared))
    stamp = r.iso_millis(state.now())
    merged.update(modified_date__v=stamp, modified_by__v=actor)
    merged["name__v"] = _name(schema, merged, existing["id"])
    existing.clear()
    existing.update(merged)
    result.status, result.event = SUCCESS, "updated__sys"
    result.change = Change("updated", schema.name, dict(existing), stamp)
    return result


def _name(schema: ObjectSchema, record: dict[str, Any], record_id: str | int) -> Any:
    if schema.name_mode is NameMode.REQUIRED:
        return record.get("name__v")
    if schema.name_mode is NameMode.PERSON:
        first = record.get("first_name__sys") or record.get("first_name__v") or ""
        last = record.get("last_name__sys") or record.get("last_name__v") or ""
        return f"{first} {last}".strip() or str(record_id)
    return record.get("name__v") or f"{schema.prefix}-{str(record_id)[-6:]}"


def delete_record(state: VaultState, object_name: str, record_id: str | int) -> Change | None:
    """Remove a record and log its deletion (what the deletions API reports for 30 days)."""
    from app.simulators.vault.state import Deletion

    record = state.records.get(object_name, {}).pop(str(record_id), None)
    if record is None:
        return None
    moment = state.now()
    state.deletions.append(Deletion(object_name, record["id"], moment))
    return Change("deleted", object_name, record, r.iso_millis(moment))
