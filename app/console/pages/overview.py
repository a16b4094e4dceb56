"""Overview: each connection's state, last success, open and dead work, lag, the last hour, Transfer runs."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from app.api.deps import ResourcesDep
from app.console.chart import bars
from app.console.operator_api import ApiRefused
from app.console.web import Operator, OperatorDep, WriterDep, console_router, render
from app.context import Resources
from app.services import overview as overview_service

router = console_router()
TRANSFER_RUNS_SHOWN = 10


async def _page(request: Request, resources: Resources, op: Operator, **extra: Any) -> Response:
    connections = (await op.api.get("/api/v1/connections", limit=500))["items"]
    runs = (await op.api.get("/api/v1/transfer-runs", limit=TRANSFER_RUNS_SHOWN))["items"]
    async with resources.sessionmaker() as session:
        health = await overview_service.overview(session)
    rows = []
    for c in connections:
        h = health.connections.get(c["id"])
        values = h.per_bucket if h else [0] * overview_service.BUCKETS
        rows.append(
            {
                "connection": c,
                "health": h,
                "chart": bars(
                    values,
                    since=health.since,
                    bucket=health.bucket,
                    label=f"deliveries per 5 minutes, {c['name']}",
                ),
            }
        )
    return render(request, "overview.html", op, rows=rows, runs=runs, **extra)


@router.get("/")
async def overview_page(request: Request, resources: ResourcesDep, op: OperatorDep) -> Response:
    return await _page(request, resources, op)


@router.post("/transfer-runs")
async def run_transfer(request: Request, resources: ResourcesDep, op: WriterDep) -> Response:
    try:
        run = await op.api.post("/api/v1/transfer-runs")
    except ApiRefused as exc:
        if exc.status == 403:
            raise
        return await _page(request, resources, op, error=str(exc))
    return await _page(request, resources, op, notice=f"Transfer run {run['id']} started ({run['status']}).")
