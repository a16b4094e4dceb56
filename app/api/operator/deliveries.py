"""/api/v1/deliveries: find deliveries (viewer); replay or discard them (operator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.edge import transaction, wake
from app.api.operator.pagination import Page, PageDep
from app.api.operator.routing import RowId, errors, operator_router
from app.api.operator.schemas.deliveries import (
    BulkReplayIn,
    BulkReplayOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryQuery,
    DiscardIn,
    delivery_detail,
)
from app.repositories import deliveries_query
from app.services import replay

router = operator_router("deliveries")
NOT_FOUND = ("DELIVERY_NOT_FOUND", "no delivery with id 42")
# :int so that /deliveries/replay is never taken for a delivery id (its OPTIONS answers Allow: POST)
ONE = "/api/v1/deliveries/{delivery_id:int}"


@router.get(
    "/api/v1/deliveries",
    summary="List deliveries, newest first",
    description=(
        "Dead letters: `?status=dead`. Filters combine with AND; `status` may be repeated. "
        "`object` is the source object; times need a UTC offset."
    ),
    responses=errors(400, 422),
)
async def list_deliveries(
    resources: ResourcesDep, _caller: CallerDep, page: PageDep, query: Annotated[DeliveryQuery, Query()]
) -> Page[DeliveryOut]:
    async with resources.sessionmaker() as session:
        rows = await deliveries_query.page(
            session, query.to_filter(), before_id=page.int_key(), limit=page.limit + 1
        )
    return page.page(rows, lambda d: [d.id], DeliveryOut.model_validate)


@router.get(
    ONE, summary="One delivery with its payload and every attempt", responses=errors(404, not_found=NOT_FOUND)
)
async def get_delivery(delivery_id: RowId, resources: ResourcesDep, _caller: CallerDep) -> DeliveryDetail:
    async with resources.sessionmaker() as session:
        delivery = await replay.get(session, delivery_id)
        attempts = await deliveries_query.attempts_of(session, [delivery_id])
    return delivery_detail(delivery, attempts[delivery_id])


@router.post(
    ONE + "/replay",
    summary="Replay a dead, discarded, unmatched or stale delivery now",
    description=(
        "The delivery becomes `pending` and due now, and its lane is woken. Its attempts stay as history "
        "and its retry clock starts again: it is retried for the whole retry horizon once more. "
        "Other statuses: 409 `DELIVERY_NOT_REPLAYABLE`."
    ),
    responses=errors(
        404,
        409,
        not_found=NOT_FOUND,
        conflict=(
            "DELIVERY_NOT_REPLAYABLE",
            "delivery 42 is delivered; only dead, discarded, unmatched, stale deliveries can be replayed",
        ),
    ),
)
async def replay_delivery(delivery_id: RowId, resources: ResourcesDep, caller: CallerDep) -> DeliveryOut:
    async with transaction(resources) as session:
        delivery = await replay.replay(session, delivery_id, actor=caller.actor)
        out = DeliveryOut.model_validate(delivery)
    await wake(resources, [delivery.lane])
    return out


@router.post(
    ONE + "/discard",
    summary="Give up on a delivery (pending, awaiting transfer, unmatched or dead)",
    description=(
        "Status becomes `discarded`; the reason goes to the audit log. A delivery a worker holds "
        "(`in_flight`) or one already finished cannot be discarded: 409 `DELIVERY_NOT_DISCARDABLE`."
    ),
    responses=errors(
        404,
        409,
        422,
        not_found=NOT_FOUND,
        conflict=(
            "DELIVERY_NOT_DISCARDABLE",
            "delivery 42 is in_flight; only pending, awaiting_transfer, unmatched, dead deliveries can be discarded",
        ),
    ),
)
async def discard_delivery(
    delivery_id: RowId, body: DiscardIn, resources: ResourcesDep, caller: CallerDep
) -> DeliveryOut:
    async with transaction(resources) as session:
        delivery = await replay.discard(session, delivery_id, body.reason, actor=caller.actor)
        return DeliveryOut.model_validate(delivery)


@router.post(
    "/api/v1/deliveries/replay",
    summary="Replay every delivery a filter matches (dry run first)",
    description=(
        "1. `dry_run: true` (the default) counts the matching deliveries and answers `up_to_id` and "
        "`as_of`. 2. `dry_run: false` with that `up_to_id` and `as_of` replays exactly that set, oldest "
        "first, at most `limit` per call: call again while `remaining` is above 0. `status` may only name "
        "dead, discarded, unmatched or stale (default dead); 422 `STATUS_NOT_REPLAYABLE` otherwise."
    ),
    responses=errors(422),
)
async def replay_bulk(body: BulkReplayIn, resources: ResourcesDep, caller: CallerDep) -> BulkReplayOut:
    async with transaction(resources) as session:
        result = await replay.replay_bulk(
            session,
            body.to_filter(),
            dry_run=body.dry_run,
            up_to_id=body.up_to_id,
            as_of=body.as_of,
            limit=body.limit,
            actor=caller.actor,
        )
    await wake(resources, list(result.lanes))
    return BulkReplayOut(
        dry_run=result.dry_run,
        matched=result.matched,
        replayed=result.replayed,
        remaining=result.remaining,
        up_to_id=result.up_to_id,
        as_of=result.as_of,
    )
