"""/api/v1/settings: the bridge-wide settings (read: viewer; change: admin)."""

from __future__ import annotations

from typing import Any

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.edge import transaction
from app.api.operator.routing import errors, operator_router
from app.api.operator.schemas.operations import SettingsOut, SettingsUpdate
from app.services import settings_admin
from app.services.names import ctms_names_for

router = operator_router("settings")


@router.get("/api/v1/settings", summary="The global settings", responses=errors())
async def get_settings(resources: ResourcesDep, _caller: CallerDep) -> SettingsOut:
    async with transaction(resources) as session:  # the row is created with defaults on first read
        row = await settings_admin.read(session)
        return SettingsOut.model_validate(settings_admin.view(row))


@router.put(
    "/api/v1/settings",
    summary="Change global settings (fields left out keep their value)",
    description=(
        "A new identifier pair (`ctms_person_field`, `crm_account_field`) forgets the cached "
        "person-account matches of every connection that has no pair of its own (422 "
        "`INVALID_ACCOUNT_MATCH` for a name that is not an API name). `ctms_names` replaces the CTMS name "
        "overrides as a whole (422 `INVALID_OBJECT_NAMES` naming each bad key)."
    ),
    responses=errors(422),
)
async def put_settings(body: SettingsUpdate, resources: ResourcesDep, caller: CallerDep) -> SettingsOut:
    async with transaction(resources) as session:
        row = await settings_admin.update(session, body.model_dump(exclude_unset=True), actor=caller.actor)
        return SettingsOut.model_validate(settings_admin.view(row))


@router.get(
    "/api/v1/settings/ctms-names",
    summary="The CTMS object, field and picklist names in force",
    description="The defaults with the overrides of `ctms_names` (`PUT /api/v1/settings`) applied.",
    responses=errors(),
)
async def get_ctms_names(resources: ResourcesDep, _caller: CallerDep) -> dict[str, Any]:
    async with transaction(resources) as session:
        row = await settings_admin.read(session)
        return ctms_names_for(row).model_dump(mode="json")
