"""Object record routes: create/upsert, update, delete, read, object metadata and deleted record ids."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.simulators.vault import responses as r
from app.simulators.vault.auth import SessionDep, StateDep
from app.simulators.vault.events import announce
from app.simulators.vault.schema import ObjectSchema
from app.simulators.vault.state import VaultState
from app.simulators.vault.writes import WARNING, WriteMode, check_batch, delete_record, write_rows

router = APIRouter()


def _object(state: VaultState, name: str) -> ObjectSchema:
    schema = state.object_schema(name)
    if schema is None:
        raise r.VaultError(r.MALFORMED_URL, f"Object [{name}] does not exist")
    return schema


async def _rows(request: Request) -> Any:
    """The records of a write: a JSON array, or CSV (RFC 4180, a header row of field names) as Vault takes.

    A CSV cell is text (the field's type reads it, as it does JSON strings); an empty cell is no value.
    """
    body = await request.body()
    if request.headers.get("content-type", "").startswith("text/csv"):
        rows: Any = _csv_rows(body)
    else:
        try:
            rows = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise r.VaultError(r.INVALID_DATA, "The request body is not valid JSON") from None
    if isinstance(rows, list):
        request.state.vault_records = len(rows)  # the gate logs the batch size
    return rows


def _csv_rows(body: bytes) -> list[dict[str, str | None]]:
    try:
        table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise r.VaultError(r.INVALID_DATA, f"The CSV input is not valid UTF-8 CSV: {exc}") from None
    if not table or not any(table[0]):
        raise r.VaultError(r.INVALID_DATA, "The CSV input has no header row of field names")
    header, lines = table[0], [line for line in table[1:] if line]
    for number, line in enumerate(lines, start=2):
        if len(line) != len(header):
            raise r.VaultError(
                r.INVALID_DATA, f"CSV line {number} has {len(line)} values; the header names {len(header)}"
            )
    return [{name: cell or None for name, cell in zip(header, line, strict=True)} for line in lines]


async def _write(
    request: Request,
    state: VaultState,
    actor: int,
    v: str,
    object_name: str,
    mode: WriteMode,
    id_param: str | None,
) -> Response:
    schema = _object(state, object_name)
    rows = check_batch(state, schema, await _rows(request), id_param, mode)
    results = write_rows(state, schema, rows, mode, id_param, actor)
    for result in results:
        if result.change is not None:
            announce(state, result.change, via="api")
    records_url = f"/api/{v}/vobjects/{object_name}"
    body: dict[str, Any] = {"responseStatus": "SUCCESS"}
    if any(res.status == WARNING for res in results):
        body["responseStatus"] = WARNING
        body["warnings"] = [
            {
                "warning_type": r.NO_DATA_CHANGES,
                "message": "No changes in values - one or more records not updated",
            }
        ]
    body["data"] = [
        res.render(records_url, id_param=id_param, with_event=mode is not WriteMode.UPDATE) for res in results
    ]
    return r.vault_json(body)


@router.post("/api/{v}/vobjects/{object_name}")
async def create_or_upsert(
    v: str, object_name: str, request: Request, state: StateDep, session: SessionDep
) -> Response:
    id_param = request.query_params.get("idParam") or None
    mode = WriteMode.UPSERT if id_param else WriteMode.CREATE
    return await _write(request, state, session.user_id, v, object_name, mode, id_param)


@router.put("/api/{v}/vobjects/{object_name}")
async def update(
    v: str, object_name: str, request: Request, state: StateDep, session: SessionDep
) -> Response:
    id_param = request.query_params.get("idParam") or None
    return await _write(request, state, session.user_id, v, object_name, WriteMode.UPDATE, id_param)


@router.delete("/api/{v}/vobjects/{object_name}")
async def delete_records(
    v: str, object_name: str, request: Request, state: StateDep, session: SessionDep
) -> Response:
    """Delete Object Records: each row names its record by ``id``, or by the unique field ``idParam`` names."""
    schema = _object(state, object_name)
    id_param = request.query_params.get("idParam") or None
    rows = check_batch(state, schema, await _rows(request), id_param, WriteMode.UPDATE)
    key = id_param or "id"
    records_url = f"/api/{v}/vobjects/{object_name}"
    results: list[dict[str, Any]] = []
    for row in rows:
        value = row.get(key) if isinstance(row, dict) else None
        record = None if value in (None, "") else state.find(object_name, key, value)
        if record is None:
            message = f"Invalid value [{value}] for [{key}]: no such record of [{object_name}]"
            results.append({"responseStatus": "FAILURE", "errors": [r.error(r.INVALID_DATA, message)]})
            continue
        change = delete_record(state, object_name, record["id"])
        if change is not None:
            announce(state, change, via="api")
        record_id = record["id"]
        results.append(
            {"responseStatus": "SUCCESS", "data": {"id": record_id, "url": f"{records_url}/{record_id}"}}
        )
    return r.vault_json({"responseStatus": "SUCCESS", "data": results})


@router.get("/api/{v}/vobjects/{object_name}/{record_id}")
async def read(v: str, object_name: str, record_id: str, state: StateDep, session: SessionDep) -> Response:
    schema = _object(state, object_name)
    record = state.get(object_name, record_id)
    if record is None:
        raise r.VaultError(r.INVALID_DATA, f"Invalid record id [{record_id}] for object [{object_name}]")
    return r.vault_json(
        {
            "responseStatus": "SUCCESS",
            "responseDetails": {
                "url": f"/api/{v}/vobjects/{object_name}/{record_id}",
                "object": schema.summary(v),
            },
            "data": state.present(object_name, record),
        }
    )


@router.get("/api/{v}/metadata/vobjects")
async def list_objects(v: str, state: StateDep, session: SessionDep) -> Response:
    return r.vault_json({"responseStatus": "SUCCESS", "objects": [o.summary(v) for o in state.registry]})


@router.get("/api/{v}/metadata/vobjects/{object_name}")
async def object_metadata(v: str, object_name: str, state: StateDep, session: SessionDep) -> Response:
    schema = _object(state, object_name)
    return r.vault_json({"responseStatus": "SUCCESS", "object": schema.metadata(v, state.registry)})


@router.get("/api/{v}/objects/deletions/vobjects/{object_name}")
async def deleted_ids(
    v: str, object_name: str, request: Request, state: StateDep, session: SessionDep
) -> Response:
    _object(state, object_name)
    params = request.query_params
    start, end = (
        _date_param(params.get("start_date"), "start_date"),
        _date_param(params.get("end_date"), "end_date"),
    )
    limit = _int_param(params.get("limit"), "limit", default=1000, low=0, high=5000)
    offset = _int_param(params.get("offset"), "offset", default=0, low=0, high=None)
    oldest = state.clock() - timedelta(days=state.config.deletion_retention_days)
    found = [
        d
        for d in state.deletions
        if d.object == object_name
        and d.deleted_at >= oldest
        and (start is None or d.deleted_at >= start)
        and (end is None or d.deleted_at <= end)
    ]
    page = found[offset : offset + limit]
    details: dict[str, Any] = {"total": len(found), "size": len(page), "limit": limit, "offset": offset}
    base = f"/api/{v}/objects/deletions/vobjects/{object_name}"
    keep = "".join(f"&{k}={params[k]}" for k in ("start_date", "end_date") if params.get(k))
    if offset + limit < len(found) and limit > 0:
        details["next_page"] = f"{base}?limit={limit}&offset={offset + limit}{keep}"
    if offset > 0:
        details["previous_page"] = f"{base}?limit={limit}&offset={max(offset - limit, 0)}{keep}"
    data = [{"id": d.id, "date_deleted": r.iso_seconds(d.deleted_at)} for d in page]
    return r.vault_json(
        {"responseStatus": "SUCCESS", "responseMessage": "OK", "responseDetails": details, "data": data}
    )


def _date_param(value: str | None, name: str) -> Any:
    if not value:
        return None
    try:
        return r.parse_instant(value)
    except ValueError:
        raise r.VaultError(r.INVALID_DATA, f"Invalid [{name}]: use YYYY-MM-DDTHH:MM:SSZ") from None


def _int_param(value: str | None, name: str, *, default: int, low: int, high: int | None) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
        raise r.VaultError(r.INVALID_DATA, f"Invalid [{name}] [{value}]")
    return int(value)


@router.get("/api/{v}/objects/picklists")
async def list_picklists(v: str, state: StateDep, session: SessionDep) -> Response:
    picklists = [
        {
            "name": name,
            "label": name.rsplit("__", 1)[0].replace("_", " ").title(),
            "kind": "global",
            "systemManaged": False,
            "usedIn": [
                {"objectName": obj.name, "propertyName": f.name}
                for obj, f in state.registry.picklist_fields(name)
            ],
        }
        for name in state.registry.picklist_names()
    ]
    return r.vault_json({"responseStatus": "SUCCESS", "responseMessage": "Success", "picklists": picklists})


@router.get("/api/{v}/objects/picklists/{picklist_name}")
async def picklist_values(v: str, picklist_name: str, state: StateDep, session: SessionDep) -> Response:
    """Retrieve Picklist Values: only the active ones, as Vault answers."""
    try:
        values = state.picklist_values(picklist_name)
    except KeyError:
        raise r.VaultError(r.INVALID_DATA, f"Picklist [{picklist_name}] does not exist") from None
    active = [
        {"name": value["name"], "label": value["name"].rsplit("__", 1)[0].replace("_", " ").capitalize()}
        for value in values
        if value["active"]
    ]
    return r.vault_json({"responseStatus": "SUCCESS", "responseMessage": "Success", "picklistValues": active})


@router.get("/api/{v}/configuration/Objecttype")
async def object_types(v: str, state: StateDep, session: SessionDep) -> Response:
    """Retrieve Details from All Object Types: every type of every object, with the fields it uses."""
    return r.vault_json({"responseStatus": "SUCCESS", "data": _type_details(state)})


@router.get("/api/{v}/configuration/{component}")
async def object_type(v: str, component: str, state: StateDep, session: SessionDep) -> Response:
    """Retrieve Details from a Specific Object Type: ``Objecttype.{object}.{type}``."""
    kind, _, rest = component.partition(".")
    object_name, _, type_name = rest.partition(".")
    found = [t for t in _type_details(state) if (t["object"], t["name"]) == (object_name, type_name)]
    if kind != "Objecttype" or not found:
        raise r.VaultError(r.MALFORMED_URL, f"Component [{component}] does not exist")
    return r.vault_json({"responseStatus": "SUCCESS", "data": found[0]})


def _type_details(state: VaultState) -> list[dict[str, Any]]:
    details = []
    for obj in state.registry:
        for number, t in enumerate(state.object_types_of(obj.name) if obj.object_types else []):
            details.append(
                {
                    "name": t["api_name__v"],
                    "object": obj.name,
                    "label": t["type_label__v"],
                    "active": True,
                    "default_type": number == 0,
                    "type_fields": [{"name": f} for f in obj.fields],
                }
            )
    return details
