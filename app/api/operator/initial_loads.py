"""/api/v1/initial-loads: load what already exists (operator), and follow a load's progress (viewer)."""

from __future__ import annotations

from fastapi import status

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.edge import transaction
from app.api.operator.pagination import Page, PageDep
from app.api.operator.routing import RowId, errors, operator_router
from app.api.operator.schemas.loads import InitialLoadIn, InitialLoadOut
from app.repositories import initial_loads
from app.services.operator_errors import NotFound
from app.services.transfer.feed import load_prefix
from app.services.transfer.initial_load import hand_to_worker, request_load, resume_load

router = operator_router("initial-loads")
BASE = "/api/v1/initial-loads"


@router.post(
    BASE,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Load everything that already exists",
    description=(
        "Reads every CTMS study, study site and clinical activity, and every CRM call already sent to Vault "
        "Clinical (or only those changed since `since`), page by page, and feeds them through the inbox as "
        "caught-up changes; deliveries follow as for any change (parents first; content the bridge already "
        "wrote ends `unchanged`). A load stopped anywhere resumes at its first unsaved page. One load runs "
        "at a time (409 `INITIAL_LOAD_IN_PROGRESS`). Poll `GET /api/v1/initial-loads/{id}` for progress."
    ),
    responses=errors(404, 409),
)
async def start_initial_load(
    body: InitialLoadIn, resources: ResourcesDep, caller: CallerDep
) -> InitialLoadOut:
    async with transaction(resources) as session:
        load = await request_load(session, caller.actor, since=body.since, connection_id=body.connection_id)
    await hand_to_worker(resources.queue, load)
    return InitialLoadOut.of(load)


@router.post(
    BASE + "/{load_id}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Resume a failed initial load from where it stopped",
    responses=errors(404, 409, not_found=("INITIAL_LOAD_NOT_FOUND", "no initial load with id 42")),
)
async def resume_initial_load(load_id: RowId, resources: ResourcesDep, caller: CallerDep) -> InitialLoadOut:
    async with transaction(resources) as session:
        load = await resume_load(session, caller.actor, load_id)
    await hand_to_worker(resources.queue, load)
    return InitialLoadOut.of(load)


@router.get(BASE, summary="List initial loads, newest first", responses=errors(400, 422))
async def list_initial_loads(
    resources: ResourcesDep, _caller: CallerDep, page: PageDep
) -> Page[InitialLoadOut]:
    async with resources.sessionmaker() as session:
        rows = await initial_loads.page(session, before_id=page.int_key(), limit=page.limit + 1)
    return page.page(rows, lambda r: [r.id], InitialLoadOut.of)


@router.get(
    BASE + "/{load_id}",
    summary="One initial load: per source read and stored, and its events' deliveries by status",
    responses=errors(404, not_found=("INITIAL_LOAD_NOT_FOUND", "no initial load with id 42")),
)
async def get_initial_load(load_id: RowId, resources: ResourcesDep, _caller: CallerDep) -> InitialLoadOut:
    async with resources.sessionmaker() as session:
        load = await initial_loads.get(session, load_id)
        if load is None:
            raise NotFound("INITIAL_LOAD_NOT_FOUND", f"no initial load with id {load_id}")
        outcomes = await initial_loads.outcome_counts(session, load, load_prefix(load_id))
    return InitialLoadOut.of(load, outcomes)
