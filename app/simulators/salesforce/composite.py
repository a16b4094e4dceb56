"""sObject Collections: create, update and upsert up to 200 records in one call.

The call answers HTTP 200 with one result per record, in input order, even when every record failed; only a
malformed request (too many records, an unknown field, bad JSON) fails as a whole. With ``allOrNone`` any
failure rolls everything back, and the records that were fine report ``ALL_OR_NONE_OPERATION_ROLLED_BACK``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from app.simulators.salesforce import writes
from app.simulators.salesforce.errors import (
    ApiError,
    MultipleMatches,
    RecordError,
    SaveError,
    bad_external_id_field,
    json_parser_error,
    not_found,
    rolled_back,
)
from app.simulators.salesforce.formats import normalize_id
from app.simulators.salesforce.schema import FieldDef, ObjectDef
from app.simulators.salesforce.state import SalesforceState
from app.simulators.salesforce.web import StateDep, VersionDep, read_object, run_as, sf_json

router = APIRouter(prefix="/services/data/{version}/composite/sobjects")

MAX_RECORDS = 200
COLLECTIONS_FROM = 42
UPSERT_FROM = 46
Result = dict[str, Any]


def _failure(*errors: SaveError) -> Result:
    return {"success": False, "errors": [e.as_result() for e in errors]}


async def _read_collection(request: Request) -> tuple[bool, list[dict[str, Any]]]:
    body = await read_object(request, "SObjectCollection")
    all_or_none = body.get("allOrNone", False)
    records = body.get("records")
    if not isinstance(all_or_none, bool):
        raise json_parser_error(
            f"Cannot deserialize instance of boolean from VALUE_STRING value {all_or_none}"
        )
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise json_parser_error("Cannot deserialize instance of SObject[] from the value of records")
    if len(records) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    request.state.records = len(records)
    return all_or_none, records


def _record_type(state: SalesforceState, record: dict[str, Any]) -> ObjectDef | SaveError:
    attributes = record.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    if not type_name:
        return SaveError("INVALID_TYPE", "Must send a concrete entity type.")
    obj = state.schema.get(str(type_name))
    if obj is None:
        return SaveError("INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
    return obj


def _run(
    state: SalesforceState,
    records: list[dict[str, Any]],
    all_or_none: bool,
    one: Callable[[dict[str, Any]], Result],
) -> Response:
    """Apply ``one`` to each record; undo everything on a request-level error or an allOrNone failure."""
    state.store.begin()
    try:
        results = [one(record) for record in records]
    except BaseException:
        state.store.rollback()
        raise
    if all_or_none and any(not r["success"] for r in results):
        state.store.rollback()
        results = [r if not r["success"] else _failure(rolled_back()) for r in results]
    else:
        state.store.commit()
    return sf_json(results)


@router.post("")
@router.post("/")
async def create_records(request: Request, api: VersionDep, state: StateDep) -> Response:
    if api.number < COLLECTIONS_FROM:
        raise not_found()
    all_or_none, records = await _read_collection(request)
    user_id, now = run_as(request), state.now()

    def one(record: dict[str, Any]) -> Result:
        obj = _record_type(state, record)
        if isinstance(obj, SaveError):
            return _failure(obj)
        try:
            created = writes.create(state.store, obj, _fields(record), user_id=user_id, now=now)
        except RecordError as exc:
            return _failure(*exc.errors)
        return {"id": created["Id"], "success": True, "errors": []}

    return _run(state, records, all_or_none, one)


@router.patch("")
@router.patch("/")
async def update_records(request: Request, api: VersionDep, state: StateDep) -> Response:
    if api.number < COLLECTIONS_FROM:
        raise not_found()
    all_or_none, records = await _read_collection(request)
    user_id, now = run_as(request), state.now()

    def one(record: dict[str, Any]) -> Result:
        obj = _record_type(state, record)
        if isinstance(obj, SaveError):
            return _failure(obj)
        raw_id = next((v for k, v in record.items() if k.lower() == "id"), None)
        if not raw_id:
            return _failure(SaveError("MISSING_ARGUMENT", "Id not specified in an update call"))
        full = normalize_id(str(raw_id))
        if full is None or full[:3] != obj.key_prefix:
            return _failure(
                SaveError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw_id}", ("Id",))
            )
        if state.store.get(obj.name, full) is None:
            if state.store.get_deleted(obj.name, full) is not None:
                return _failure(SaveError("ENTITY_IS_DELETED", "entity is deleted"))
            return _failure(SaveError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
        try:
            writes.update(state.store, obj, full, _fields(record), user_id=user_id, now=now)
        except RecordError as exc:
            return _failure(*exc.errors)
        return {"id": full, "success": True, "errors": []}

    return _run(state, records, all_or_none, one)


@router.patch("/{sobject}/{field_name}")
async def upsert_records(
    sobject: str, field_name: str, request: Request, api: VersionDep, state: StateDep
) -> Response:
    obj = state.schema.get(sobject)
    if api.number < UPSERT_FROM or obj is None:
        raise not_found()
    key = writes.external_id_field(obj, field_name)
    if key is None:
        raise bad_external_id_field(field_name)
    all_or_none, records = await _read_collection(request)
    user_id, now = run_as(request), state.now()
    values = [_key_value(record, key) for record in records]
    seen = Counter(v.casefold() for v in values if v is not None)

    def one(record: dict[str, Any]) -> Result:
        value = _key_value(record, key)
        record_type = _record_type(state, record)
        if isinstance(record_type, SaveError):
            return _failure(record_type)
        if record_type is not obj:
            return _failure(SaveError("INVALID_TYPE", f"Records must be of the type in the URL: {obj.name}"))
        if value is None:
            return _failure(SaveError("MISSING_ARGUMENT", f"{key.name} not specified"))
        if seen[value.casefold()] > 1:
            return _failure(
                SaveError("DUPLICATE_VALUE", f"Duplicate external id specified: {value}", (key.name,))
            )
        body = {k: v for k, v in _fields(record).items() if k.lower() != key.name.lower()}
        try:
            saved, created = writes.upsert(state.store, obj, key, value, body, user_id=user_id, now=now)
        except RecordError as exc:
            return _failure(*exc.errors)
        except MultipleMatches as matches:
            message = (
                f"{key.label}: more than one record found for external id field: [{', '.join(matches.ids)}]"
            )
            return _failure(SaveError("DUPLICATE_EXTERNAL_ID", message, (key.name,)))
        return {"id": saved["Id"], "success": True, "errors": [], "created": created}

    return _run(state, records, all_or_none, one)


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes"}


def _key_value(record: dict[str, Any], key: FieldDef) -> str | None:
    raw = next((v for k, v in record.items() if k.lower() == key.name.lower()), None)
    if raw is None or raw == "":
        return None
    return raw if isinstance(raw, str) else str(raw)
