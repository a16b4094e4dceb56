"""Liveness, readiness and metrics: unauthenticated, for load balancers and Prometheus."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.api.deps import ResourcesDep
from app.api.problems import Problem, problem_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database and the queue are reachable",
    responses=problem_responses(503, examples={503: ("NOT_READY", "not ready: database unreachable")}),
)
async def readyz(resources: ResourcesDep) -> dict[str, object]:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(5):
            async with resources.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    if resources.settings.redis_url:
        try:
            await resources.queue.ping()
            checks["queue"] = "ok"
        except Exception as exc:
            checks["queue"] = f"unavailable: {type(exc).__name__}"
    else:
        checks["queue"] = "in-process"
    failing = [name for name, state in checks.items() if state.startswith("unavailable")]
    if failing:
        raise Problem(
            503,
            "NOT_READY",
            f"not ready: {', '.join(failing)} unreachable",
            headers={"Retry-After": "5"},
            extra={"checks": checks},
        )
    return {"status": "ready", "checks": checks}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
