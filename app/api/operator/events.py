"""/api/v1/events: every webhook event the bridge accepted, and what it turned into (viewer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.pagination import Page, PageDep
from app.api.operator.routing import RowId, errors, operator_router
from app.api.operator.schemas.deliveries import EventDetail, EventOut, EventQuery, delivery_detail
from app.repositories import deliveries_query, events_query
from app.services.operator_errors import NotFound

router = operator_router("events")


@router.get(
    "/api/v1/events",
    summary="List events, newest first",
    description="Filters combine with AND; `status` may be repeated. Times need a UTC offset.",
    responses=errors(400, 422),
)
async def list_events(
    resources: ResourcesDep, _caller: CallerDep, page: PageDep, query: Annotated[EventQuery, Query()]
) -> Page[EventOut]:
    async with resources.sessionmaker() as session:
        rows = await events_query.page(
            session, query.to_filter(), before_id=page.int_key(), limit=page.limit + 1
        )
    return page.page(rows, lambda e: [e.id], EventOut.model_validate)


@router.get(
    "/api/v1/events/{event_id}",
    summary="One event with its payload, its deliveries and every attempt",
    responses=errors(404, not_found=("EVENT_NOT_FOUND", "no event with id 42")),
)
async def get_event(event_id: RowId, resources: ResourcesDep, _caller: CallerDep) -> EventDetail:
    async with resources.sessionmaker() as session:
        event = await events_query.get(session, event_id)
        if event is None:
            raise NotFound("EVENT_NOT_FOUND", f"no event with id {event_id}")
        deliveries = await deliveries_query.for_event(session, event_id)
        attempts = await deliveries_query.attempts_of(session, [d.id for d in deliveries if d.id is not None])
    details = [delivery_detail(d, attempts.get(d.id or 0, [])) for d in deliveries]
    return EventDetail.model_validate({**event.model_dump(), "deliveries": details})
