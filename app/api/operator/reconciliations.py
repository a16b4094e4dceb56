"""/api/v1/reconciliations: do both sides agree (operator starts, viewer reads), and repair what drifted."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Query, status

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.edge import transaction
from app.api.operator.pagination import Page, PageDep
from app.api.operator.routing import RowId, errors, operator_router
from app.api.operator.schemas.reconciliations import (
    DriftKind,
    DriftOut,
    ReconciliationOut,
    RepairIn,
    RepairOut,
    ResyncIn,
    ResyncOut,
)
from app.logging import get_logger
from app.repositories import reconciliations
from app.services import wakeups
from app.services.operator_errors import NotFound
from app.services.reconciliation.preview import with_previews
from app.services.reconciliation.repair import repair, resync, resync_where
from app.services.reconciliation.run import JOB, request_run
from app.worker.queue import QueueUnavailable

log = get_logger(__name__)
router = operator_router("reconciliations")
BASE = "/api/v1/reconciliations"
NOT_FOUND = ("RECONCILIATION_NOT_FOUND", "no reconciliation with id 42")


@router.post(
    BASE,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Compare both sides now",
    description=(
        "For every link: the source's current state, the target's and what the bridge last wrote, read in "
        "batches; then target records carrying the bridge's external id with no source, and persons still "
        "unmatched. Each difference is a drift, by kind. One run at a time (409 "
        "`RECONCILIATION_IN_PROGRESS`). Poll `GET /api/v1/reconciliations/{id}`."
    ),
    responses=errors(409),
)
async def start_reconciliation(resources: ResourcesDep, caller: CallerDep) -> ReconciliationOut:
    silence = timedelta(seconds=resources.settings.lease_seconds)
    async with transaction(resources) as session:
        run = await request_run(session, caller.actor, silence)
        out = ReconciliationOut.model_validate(run)
    try:
        await resources.queue.enqueue(JOB, out.id, job_id=f"{JOB}:{out.id}")
    except QueueUnavailable:  # left queued: closed as abandoned after the lease, so a new run can start
        log.warning("reconciliation_enqueue_failed", run_id=out.id)
    return out


@router.get(BASE, summary="List reconciliation runs, newest first", responses=errors(400, 422))
async def list_reconciliations(
    resources: ResourcesDep, _caller: CallerDep, page: PageDep
) -> Page[ReconciliationOut]:
    async with resources.sessionmaker() as session:
        rows = await reconciliations.page(session, before_id=page.int_key(), limit=page.limit + 1)
    return page.page(rows, lambda r: [r.id], ReconciliationOut.model_validate)


@router.get(
    BASE + "/{run_id}",
    summary="One reconciliation run: drifts by kind, API calls",
    responses=errors(404, not_found=NOT_FOUND),
)
async def get_reconciliation(run_id: RowId, resources: ResourcesDep, _caller: CallerDep) -> ReconciliationOut:
    async with resources.sessionmaker() as session:
        run = await reconciliations.get(session, run_id)
    if run is None:
        raise NotFound(NOT_FOUND[0], f"no reconciliation with id {run_id}")
    return ReconciliationOut.model_validate(run)


@router.get(
    BASE + "/{run_id}/drifts",
    summary="The drifts a run found, in the order found",
    responses=errors(400, 404, 422, not_found=NOT_FOUND),
)
async def list_drifts(
    run_id: RowId,
    resources: ResourcesDep,
    _caller: CallerDep,
    page: PageDep,
    kind: Annotated[list[DriftKind] | None, Query()] = None,
    connection_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[DriftOut]:
    async with resources.sessionmaker() as session:
        if await reconciliations.get(session, run_id) is None:
            raise NotFound(NOT_FOUND[0], f"no reconciliation with id {run_id}")
        rows = await reconciliations.drifts(
            session,
            run_id,
            kinds=kind,
            connection_id=connection_id,
            after_id=page.int_key(),
            limit=page.limit + 1,
        )
    return page.page(rows, lambda r: [r.id], DriftOut.model_validate)


@router.post(
    BASE + "/{run_id}/repair",
    summary="Re-send what drifted (a dry run unless dry_run is false)",
    description=(
        "Missing, changed in the target or changed in the source: the record is re-sent as its source has it "
        "now, ignoring the content hash (a forced re-sync). A dry run shows each re-send's `fields`: the "
        "bridge's last write where the source has not changed since, else the source read now and mapped by "
        "delivery's own rules, with `would_be` (what delivery would decide) and `first_writes` (parents "
        "created first); nothing is sent or stored. Deleted in the source: the deletion is sent as the "
        "source system would. Drifts a re-send cannot fix are listed under `skipped` with the reason. "
        "Filter by `kinds`, `source_ids` (one record or many) and `connection_id`; a drift is repaired once."
    ),
    responses=errors(404, 409, 422, not_found=NOT_FOUND),
)
async def repair_drifts(
    run_id: RowId, body: RepairIn, resources: ResourcesDep, caller: CallerDep
) -> RepairOut:
    async with transaction(resources) as session:
        plan = await repair(
            session,
            caller.actor,
            run_id,
            dry_run=body.dry_run,
            kinds=list(body.kinds) if body.kinds else None,
            source_ids=body.source_ids,
            connection_id=body.connection_id,
        )
    if body.dry_run:  # the re-sends whose writes are not known yet: read and mapped now, nothing sent
        plan = await with_previews(resources, run_id, plan)
    if not body.dry_run and plan.events:
        try:
            await wakeups.wake_planner(resources.queue)
        except QueueUnavailable:  # stored: the sweep finds them
            log.warning("repair_wake_failed", run_id=run_id)
    return RepairOut(dry_run=body.dry_run, events=plan.events, actions=plan.actions, skipped=plan.skipped)


@router.post(
    "/api/v1/resync",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Force a re-sync of records to one connection, ignoring the content hash",
    description=(
        "Each record's link forgets what the bridge last wrote, and a thin event makes delivery read the "
        "source's current version and write it, whether or not a reconciliation found it drifted. CTMS "
        "records, or CRM calls sent to Vault Clinical (read back from the org by id). Name the records by "
        "`source_ids`, or by `where`: every record whose fields equal the values given (e.g. every activity "
        "of one study), as the source system answers now, counted first and refused beyond 10,000."
    ),
    responses=errors(404, 409, 422, not_found=("CONNECTION_NOT_FOUND", "no connection with id conn_1")),
)
async def resync_records(body: ResyncIn, resources: ResourcesDep, caller: CallerDep) -> ResyncOut:
    async with transaction(resources) as session:
        if body.where is not None:
            events = await resync_where(
                session,
                resources.clients,
                caller.actor,
                connection_id=body.connection_id,
                source_system=body.source_system,
                source_object=body.source_object,
                where=dict(body.where),
            )
        else:
            events = await resync(
                session,
                caller.actor,
                connection_id=body.connection_id,
                source_system=body.source_system,
                source_object=body.source_object,
                source_ids=body.source_ids or [],
            )
    try:
        await wakeups.wake_planner(resources.queue)
    except QueueUnavailable:  # stored: the sweep finds them
        log.warning("resync_wake_failed")
    return ResyncOut(events=events)
