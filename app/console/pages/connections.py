"""Connections: list, create, edit, test (what is missing), activate, rotate webhook secrets."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from app.console.operator_api import ApiRefused
from app.console.pages import connection_forms
from app.console.web import Operator, OperatorDep, WriterDep, console_router, render

router = console_router()
ONE = "/api/v1/connections/{}"


def _new_values(platform: str) -> dict[str, Any]:
    version = "v25.2" if platform == "vault" else "v62.0"
    return {"platform": platform, "crm_api_version": version, "sync_studies_and_sites": "on"}


async def _list(request: Request, op: Operator, **extra: Any) -> Response:
    items = (await op.api.get("/api/v1/connections", limit=500))["items"]
    return render(request, "connections.html", op, connections=items, **extra)


@router.get("/connections")
async def connections_page(request: Request, op: OperatorDep) -> Response:
    return await _list(request, op)


@router.get("/connections/new")
async def new_connection_page(request: Request, op: OperatorDep, platform: str = "salesforce") -> Response:
    values = _new_values("vault" if platform == "vault" else "salesforce")
    return render(request, "connection_new.html", op, values=values, errors=[])


@router.post("/connections")
async def create_connection(request: Request, op: WriterDep) -> Response:
    form = connection_forms.parse(await request.form(), creating=True)
    if not form.errors:
        try:
            created = await op.api.post("/api/v1/connections", form.body)
        except ApiRefused as exc:
            if exc.status == 403:
                raise
            form.errors = [str(exc), *exc.field_errors()]
        else:
            return await _detail(
                request, op, created["id"], new_secret=created.get("webhook_secret"), created=True
            )
    return render(request, "connection_new.html", op, values=form.values, errors=form.errors, status_code=422)


async def _detail(
    request: Request, op: Operator, connection_id: str, *, status_code: int = 200, **extra: Any
) -> Response:
    connection = await op.api.get(ONE.format(connection_id))
    extra.setdefault("values", connection_forms.values_of(connection))
    extra.setdefault("errors", [])
    return render(request, "connection.html", op, connection=connection, status_code=status_code, **extra)


@router.get("/connections/{connection_id}")
async def connection_page(connection_id: str, request: Request, op: OperatorDep) -> Response:
    return await _detail(request, op, connection_id)


@router.post("/connections/{connection_id}")
async def edit_connection(connection_id: str, request: Request, op: WriterDep) -> Response:
    form = connection_forms.parse(await request.form(), creating=False)
    if not form.errors:
        try:
            await op.api.call("PATCH", ONE.format(connection_id), body=form.body)
        except ApiRefused as exc:
            if exc.status in (403, 404):
                raise
            form.errors = [str(exc), *exc.field_errors()]
        else:
            return await _detail(request, op, connection_id, notice="Saved.")
    return await _detail(request, op, connection_id, values=form.values, errors=form.errors, status_code=422)


@router.post("/connections/{connection_id}/test")
async def test_connection(connection_id: str, request: Request, op: WriterDep) -> Response:
    report = await op.api.post(ONE.format(connection_id) + "/test")
    return await _detail(request, op, connection_id, report=report)


@router.post("/connections/{connection_id}/activate")
async def activate(connection_id: str, request: Request, op: WriterDep) -> Response:
    await op.api.post(ONE.format(connection_id) + "/activate")
    return await _detail(request, op, connection_id, notice="Active: events flow to and from this CRM.")


@router.post("/connections/{connection_id}/deactivate")
async def deactivate(connection_id: str, request: Request, op: WriterDep) -> Response:
    await op.api.post(ONE.format(connection_id) + "/deactivate")
    return await _detail(
        request, op, connection_id, notice="Inactive: no new deliveries; its webhooks answer 404."
    )


@router.post("/connections/{connection_id}/webhook-secrets")
async def add_webhook_secret(connection_id: str, request: Request, op: WriterDep) -> Response:
    added = await op.api.post(ONE.format(connection_id) + "/webhook-secrets")
    return await _detail(request, op, connection_id, new_secret=added["webhook_secret"])


@router.post("/connections/{connection_id}/webhook-secrets/retire")
async def retire_previous(connection_id: str, request: Request, op: WriterDep) -> Response:
    await op.api.call("DELETE", ONE.format(connection_id) + "/webhook-secrets/previous")
    return await _detail(request, op, connection_id, notice="Only the newest webhook secret verifies now.")


@router.post("/connections/{connection_id}/delete")
async def delete(connection_id: str, request: Request, op: WriterDep) -> Response:
    try:
        deleted = await op.api.call("DELETE", ONE.format(connection_id))
    except ApiRefused as exc:
        if exc.status != 409:  # CONNECTION_ACTIVE: say so on the connection's own page
            raise
        return await _detail(request, op, connection_id, error=exc.detail, status_code=409)
    waiting = deleted["deliveries_discarded"]
    notice = f"Connection {connection_id} deleted; {waiting} waiting deliver{'y' if waiting == 1 else 'ies'} discarded."
    return await _list(request, op, notice=notice)
