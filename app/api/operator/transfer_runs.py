"""/api/v1/transfer-runs: start a Transfer job run now (operator); what each run saw and did (viewer)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, status

from app.api.deps import ResourcesDep
from app.api.operator.auth import CallerDep
from app.api.operator.edge import transaction
from app.api.operator.pagination import Page, PageDep
from app.api.operator.routing import RowId, errors, operator_router
from app.api.operator.schemas.operations import TransferRunOut
from app.api.problems import Problem
from app.models import utcnow
from app.repositories import transfer_runs, transfer_runs_query
from app.services.operator_errors import NotFound
from app.services.transfer.request import JOB, request_run
from app.worker.queue import QueueUnavailable

router = operator_router("transfer-runs")


@router.post(
    "/api/v1/transfer-runs",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run the Transfer job now",
    description=(
        "Records a run (status `queued`) and hands it to a worker. The run applies CRM call deletions, retries "
        "unmatched deliveries and catches up on changes both systems report since the last run. If a run is "
        "already in progress, the new one ends as `skipped`. Poll `GET /api/v1/transfer-runs/{id}`."
    ),
    responses=errors(503),
)
async def start_transfer_run(resources: ResourcesDep, caller: CallerDep) -> TransferRunOut:
    async with transaction(resources) as session:
        run = await request_run(session, caller.actor)
        out = TransferRunOut.model_validate(run)
    try:
        await resources.queue.enqueue(JOB, run.id, job_id=f"{JOB}:manual:{run.id}")
    except QueueUnavailable:
        async with transaction(resources) as session:
            await transfer_runs.finish(
                session,
                out.id,
                "failed",
                utcnow(),
                {},
                [{"code": "QUEUE_UNAVAILABLE", "message": "no worker could be reached"}],
            )
        raise Problem(
            503,
            "QUEUE_UNAVAILABLE",
            "the job queue cannot be reached; try again shortly",
            headers={"Retry-After": "10"},
        ) from None
    return out


@router.get(
    "/api/v1/transfer-runs", summary="List Transfer job runs, newest first", responses=errors(400, 422)
)
async def list_transfer_runs(
    resources: ResourcesDep,
    _caller: CallerDep,
    page: PageDep,
    status: Annotated[str | None, Query(examples=["running"])] = None,
    trigger: Annotated[Literal["schedule", "manual"] | None, Query()] = None,
) -> Page[TransferRunOut]:
    async with resources.sessionmaker() as session:
        rows = await transfer_runs_query.page(
            session, status=status, trigger=trigger, before_id=page.int_key(), limit=page.limit + 1
        )
    return page.page(rows, lambda r: [r.id], TransferRunOut.model_validate)


@router.get(
    "/api/v1/transfer-runs/{run_id}",
    summary="One Transfer job run with its counts",
    responses=errors(404, not_found=("TRANSFER_RUN_NOT_FOUND", "no Transfer job run with id 42")),
)
async def get_transfer_run(run_id: RowId, resources: ResourcesDep, _caller: CallerDep) -> TransferRunOut:
    async with resources.sessionmaker() as session:
        run = await transfer_runs_query.get(session, run_id)
    if run is None:
        raise NotFound("TRANSFER_RUN_NOT_FOUND", f"no Transfer job run with id {run_id}")
    return TransferRunOut.model_validate(run)
