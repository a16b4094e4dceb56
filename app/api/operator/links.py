"""/api/v1/links: where a source record went, in each connection (viewer)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.pagination import Page, PageDep
from app.api.operator.routing import errors, operator_router
from app.api.operator.schemas.operations import LinkOut
from app.repositories import links_query

router = operator_router("links")


@router.get(
    "/api/v1/links",
    summary="Where a source record went: its id and last write in each target",
    description=(
        "E.g. `?id=V6A000000001001` (either system), or narrowed: "
        "`?system=ctms&object=crm_activity__v&id=V6A000000001001`."
    ),
    responses=errors(400, 422),
)
async def list_links(
    resources: ResourcesDep,
    _caller: CallerDep,
    page: PageDep,
    id: Annotated[str, Query(min_length=1, description="the source record id", examples=["V6A000000001001"])],
    system: Annotated[
        Literal["ctms", "crm"] | None, Query(description="the source system (default: either)")
    ] = None,
    object: Annotated[
        str | None, Query(description="the source object", examples=["crm_activity__v"])
    ] = None,
    connection_id: Annotated[str | None, Query()] = None,
) -> Page[LinkOut]:
    async with resources.sessionmaker() as session:
        rows = await links_query.page(
            session,
            source_system=system,
            source_id=id,
            source_object=object,
            connection_id=connection_id,
            after_id=page.int_key(),
            limit=page.limit + 1,
        )
    return page.page(rows, lambda link: [link.id], LinkOut.model_validate)
