"""/api/v1/api-keys: operator API keys (admin). A key is shown once, when it is made."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.edge import transaction
from app.api.operator.pagination import Page, PageDep
from app.api.operator.routing import errors, operator_router
from app.api.operator.schemas.operations import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from app.repositories import api_keys as api_keys_repo
from app.services import api_keys
from app.services.api_keys import Role

router = operator_router("api-keys")


@router.post(
    "/api/v1/api-keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key; the key is in this answer only",
    description="Roles: `viewer` reads; `operator` also replays, discards and runs the Transfer job; `admin` also configures.",
    responses=errors(422),
)
async def create_api_key(body: ApiKeyCreate, resources: ResourcesDep, caller: CallerDep) -> ApiKeyCreated:
    async with transaction(resources) as session:
        key, plaintext = await api_keys.create(
            session, name=body.name, role=Role(body.role), actor=caller.actor
        )
        out = ApiKeyOut.model_validate(key)
    return ApiKeyCreated(**out.model_dump(), key=plaintext)


@router.get(
    "/api/v1/api-keys", summary="List API keys, newest first (never the keys)", responses=errors(400, 422)
)
async def list_api_keys(
    resources: ResourcesDep,
    _caller: CallerDep,
    page: PageDep,
    include_revoked: Annotated[bool, Query(description="also list revoked keys")] = False,
) -> Page[ApiKeyOut]:
    async with resources.sessionmaker() as session:
        rows = await api_keys_repo.page(
            session, after=page.time_and_str_key(), limit=page.limit + 1, include_revoked=include_revoked
        )
    return page.page(rows, lambda k: [k.created_at, k.id], ApiKeyOut.model_validate)


@router.delete(
    "/api/v1/api-keys/{key_id}",
    summary="Revoke an API key (at once; revoking twice is harmless)",
    responses=errors(404, not_found=("API_KEY_NOT_FOUND", "no API key with id 7")),
)
async def revoke_api_key(key_id: str, resources: ResourcesDep, caller: CallerDep) -> ApiKeyOut:
    async with transaction(resources) as session:
        key = await api_keys.revoke(session, key_id, actor=caller.actor)
        return ApiKeyOut.model_validate(key)
