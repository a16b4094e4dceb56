"""Settings, API keys and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Query, Request, Response

from app.console.operator_api import ApiRefused
from app.console.web import Operator, OperatorDep, WriterDep, console_router, render

router = console_router()
AUDIT_PAGE = 50
SETTING_FIELDS = (
    "ctms_person_field",
    "crm_account_field",
    "retry_horizon_seconds",
    "unmatched_max_age_seconds",
)
SWITCHES = ("automate_monitoring_events", "automate_communication_log_items")


@router.get("/settings")
async def settings_page(request: Request, op: OperatorDep) -> Response:
    return render(request, "settings.html", op, settings=await op.api.get("/api/v1/settings"), errors=[])


@router.post("/settings")
async def save_settings(request: Request, op: WriterDep) -> Response:
    form = await request.form()
    body: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in SETTING_FIELDS}
    body.update({name: form.get(name) == "on" for name in SWITCHES})
    try:
        saved = await op.api.call("PUT", "/api/v1/settings", body=body)
    except ApiRefused as exc:
        if exc.status == 403:
            raise
        current = {**await op.api.get("/api/v1/settings"), **body}
        return render(
            request,
            "settings.html",
            op,
            settings=current,
            errors=[str(exc), *exc.field_errors()],
            status_code=422,
        )
    return render(request, "settings.html", op, settings=saved, errors=[], notice="Settings saved.")


async def _keys_page(request: Request, op: Operator, **extra: Any) -> Response:
    keys = (await op.api.get("/api/v1/api-keys", limit=500, include_revoked="true"))["items"]
    return render(request, "api_keys.html", op, keys=keys, **extra)


@router.get("/api-keys")
async def api_keys_page(request: Request, op: OperatorDep) -> Response:
    return await _keys_page(request, op)


@router.post("/api-keys")
async def create_api_key(
    request: Request,
    op: WriterDep,
    name: Annotated[str, Form(max_length=255)] = "",
    role: Annotated[str, Form(max_length=16)] = "viewer",
) -> Response:
    try:
        created = await op.api.post("/api/v1/api-keys", {"name": name.strip(), "role": role})
    except ApiRefused as exc:
        if exc.status == 403:
            raise
        return await _keys_page(request, op, error=" ".join([str(exc), *exc.field_errors()]))
    return await _keys_page(request, op, new_key=created)


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(key_id: str, request: Request, op: WriterDep) -> Response:
    revoked = await op.api.call("DELETE", f"/api/v1/api-keys/{key_id}")
    return await _keys_page(request, op, notice=f"Key {revoked['name']} ({revoked['prefix']}…) is revoked.")


@router.get("/audit-log")
async def audit_log_page(
    request: Request,
    op: OperatorDep,
    action: Annotated[str, Query(max_length=64)] = "",
    resource_type: Annotated[str, Query(max_length=64)] = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    answer = await op.api.get(
        "/api/v1/audit-log", limit=AUDIT_PAGE, action=action, resource_type=resource_type, cursor=cursor
    )
    return render(
        request,
        "audit_log.html",
        op,
        entries=answer["items"],
        next_cursor=answer["next_cursor"],
        action=action,
        resource_type=resource_type,
        cursor=cursor,
    )
