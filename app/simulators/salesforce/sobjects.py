"""sObject resources: describe, one record by id or external id, upsert, and the replication feeds
(``updated`` / ``deleted``) a client polls to catch up on changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from app.simulators.salesforce import writes
from app.simulators.salesforce.describe import describe_object, global_describe, object_info
from app.simulators.salesforce.errors import (
    ApiError,
    MultipleMatches,
    bad_external_id_field,
    no_such_column,
    not_found,
)
from app.simulators.salesforce.formats import format_datetime, normalize_id, parse_datetime
from app.simulators.salesforce.schema import ObjectDef
from app.simulators.salesforce.soql_eval import record_url
from app.simulators.salesforce.state import SalesforceState
from app.simulators.salesforce.store import Record
from app.simulators.salesforce.web import StateDep, VersionDep, read_object, run_as, sf_json

router = APIRouter(prefix="/services/data/{version}")

UPSERT_REPORTS_UPDATES_FROM = 46  # before v46.0 an update by upsert answered 204 with no body
UPDATED_WINDOW_DAYS = 30
DELETED_WINDOW_DAYS = 15


def _object(state: SalesforceState, name: str) -> ObjectDef:
    obj = state.schema.get(name)
    if obj is None:
        raise not_found()
    return obj


def _live(state: SalesforceState, obj: ObjectDef, record_id: str) -> Record:
    full = normalize_id(record_id)
    if full is None:
        raise bad_external_id_field(record_id)  # not an id, so the platform reads it as a field name
    if full[:3] != obj.key_prefix:
        raise not_found()
    return state.live_record(obj.name, full)[1]


def render(obj: ObjectDef, record: Record, version: str, fields: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": record_url(version, obj.name, record["Id"])}
    }
    for name in fields or list(obj.fields):
        out[name] = record.get(name)
    return out


@router.get("")
@router.get("/")
async def resources(api: VersionDep) -> Response:
    base = f"/services/data/{api.text}"
    names = ("sobjects", "query", "queryAll", "composite", "limits")
    return sf_json({name: f"{base}/{name}" for name in names})


@router.get("/limits")
@router.get("/limits/")
async def limits(api: VersionDep, state: StateDep) -> Response:
    daily = {"Max": state.daily_api_limit, "Remaining": max(state.daily_api_limit - state.api_usage, 0)}
    return sf_json({"DailyApiRequests": daily})


@router.get("/sobjects")
@router.get("/sobjects/")
async def sobjects(api: VersionDep, state: StateDep) -> Response:
    return sf_json(global_describe(state.schema, api.text))


@router.get("/sobjects/{sobject}/describe")
@router.get("/sobjects/{sobject}/describe/")
async def describe(sobject: str, api: VersionDep, state: StateDep) -> Response:
    return sf_json(describe_object(_object(state, sobject), api.text))


def _window(request: Request, state: SalesforceState, days: int) -> tuple[datetime, datetime]:
    """``[start, latestDateCovered)``: seconds are ignored and the window cannot reach past ``days``."""
    bounds = []
    for name in ("start", "end"):
        raw = request.query_params.get(name)
        if raw is None:
            raise ApiError(400, "MISSING_ARGUMENT", f"{name} not specified")
        moment = parse_datetime(raw)
        if moment is None:
            raise ApiError(400, "INVALID_REPLICATION_DATE", f"Invalid date/time for {name}: {raw}")
        bounds.append(moment.replace(second=0))
    start, end = bounds
    now = state.now()
    if start < now - timedelta(days=days):
        raise ApiError(400, "INVALID_REPLICATION_DATE", f"startDate cannot be more than {days} days ago")
    if end - start < timedelta(minutes=1):
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate by more than one minute",
        )
    covered = now - timedelta(seconds=state.replication_lag_seconds)
    return start, min(end, covered.replace(second=0))


@router.get("/sobjects/{sobject}/updated")
@router.get("/sobjects/{sobject}/updated/")
async def updated(sobject: str, request: Request, api: VersionDep, state: StateDep) -> Response:
    obj = _object(state, sobject)
    start, latest = _window(request, state, UPDATED_WINDOW_DAYS)
    ids = [
        r["Id"]
        for r in state.store.all(obj.name)
        if start <= (parse_datetime(r["SystemModstamp"]) or start) < latest
    ]
    return sf_json({"ids": ids, "latestDateCovered": format_datetime(latest)})


@router.get("/sobjects/{sobject}/deleted")
@router.get("/sobjects/{sobject}/deleted/")
async def deleted(sobject: str, request: Request, api: VersionDep, state: StateDep) -> Response:
    obj = _object(state, sobject)
    start, latest = _window(request, state, DELETED_WINDOW_DAYS)
    log = [d for d in state.deletions if d.object_name == obj.name]
    earliest = min((d.deleted_at for d in log), default=state.started_at)
    found = [
        {"id": d.id, "deletedDate": format_datetime(d.deleted_at)}
        for d in log
        if start <= d.deleted_at < latest
    ]
    return sf_json(
        {
            "deletedRecords": found,
            "earliestDateAvailable": format_datetime(earliest.replace(second=0)),
            "latestDateCovered": format_datetime(latest),
        }
    )


@router.get("/sobjects/{sobject}")
@router.get("/sobjects/{sobject}/")
async def sobject_info(sobject: str, api: VersionDep, state: StateDep) -> Response:
    return sf_json(object_info(_object(state, sobject), api.text))


@router.post("/sobjects/{sobject}")
@router.post("/sobjects/{sobject}/")
async def create(sobject: str, request: Request, api: VersionDep, state: StateDep) -> Response:
    obj = _object(state, sobject)
    body = await read_object(request, obj.name)
    request.state.records = 1
    record = writes.create(state.store, obj, body, user_id=run_as(request), now=state.now())
    return sf_json({"id": record["Id"], "success": True, "errors": []}, 201)


@router.get("/sobjects/{sobject}/{record_id}")
async def get_record(
    sobject: str, record_id: str, request: Request, api: VersionDep, state: StateDep
) -> Response:
    obj = _object(state, sobject)
    record = _live(state, obj, record_id)
    fields = None
    if "fields" in request.query_params:
        fields = [f.strip() for f in request.query_params["fields"].split(",") if f.strip()]
        unknown = next((f for f in fields if obj.field(f) is None), None)
        if unknown is not None:
            raise no_such_column(unknown, obj.name)
        fields = ["Id", *(f.name for f in (obj.field(n) for n in fields) if f is not None and f.name != "Id")]
    return sf_json(render(obj, record, api.text, fields))


@router.patch("/sobjects/{sobject}/{record_id}")
async def update(
    sobject: str, record_id: str, request: Request, api: VersionDep, state: StateDep
) -> Response:
    obj = _object(state, sobject)
    record = _live(state, obj, record_id)
    body = await read_object(request, obj.name)
    request.state.records = 1
    writes.update(state.store, obj, record["Id"], body, user_id=run_as(request), now=state.now())
    return Response(status_code=204)


@router.delete("/sobjects/{sobject}/{record_id}")
async def delete(
    sobject: str, record_id: str, request: Request, api: VersionDep, state: StateDep
) -> Response:
    obj = _object(state, sobject)
    record = _live(state, obj, record_id)
    request.state.records = 1
    state.delete_record(obj.name, record["Id"], user_id=run_as(request))
    return Response(status_code=204)


def _multiple(api_text: str, matches: MultipleMatches) -> Response:
    """HTTP 300: the platform lists the matching records for the client to choose from."""
    return sf_json([record_url(api_text, matches.object_name, i) for i in matches.ids], 300)


@router.get("/sobjects/{sobject}/{field_name}/{value:path}")
async def get_by_external_id(
    sobject: str, field_name: str, value: str, api: VersionDep, state: StateDep
) -> Response:
    obj = _object(state, sobject)
    key = writes.external_id_field(obj, field_name)
    if key is None:
        raise bad_external_id_field(field_name)
    found = state.store.find(obj.name, key, value)
    if not found:
        raise not_found()
    if len(found) > 1:
        return _multiple(api.text, MultipleMatches(obj.name, key.name, value, [r["Id"] for r in found]))
    return sf_json(render(obj, found[0], api.text))


@router.patch("/sobjects/{sobject}/{field_name}/{value:path}")
async def upsert(
    sobject: str, field_name: str, value: str, request: Request, api: VersionDep, state: StateDep
) -> Response:
    obj = _object(state, sobject)
    key = writes.external_id_field(obj, field_name)
    if key is None or not value:
        raise bad_external_id_field(field_name)
    body = await read_object(request, obj.name)
    request.state.records = 1
    try:
        record, created = writes.upsert(
            state.store, obj, key, value, body, user_id=run_as(request), now=state.now()
        )
    except MultipleMatches as matches:
        return _multiple(api.text, matches)
    result = {"id": record["Id"], "success": True, "errors": [], "created": created}
    if created:
        return sf_json(result, 201)
    if api.number < UPSERT_REPORTS_UPDATES_FROM:
        return Response(status_code=204)
    return sf_json(result, 200)
