"""create_app(): the FastAPI application, its lifespan (resources, migrations, in-process jobs) and routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import console, metrics  # noqa: F401 - metrics registers the bridge's metrics for /metrics
from app.api import health
from app.api import operator as operator_api
from app.api.docs import DESCRIPTION, install_docs
from app.api.middleware import BodyReadTimeoutMiddleware, NulGuardMiddleware
from app.api.openapi import install_openapi
from app.api.problems import install_problem_handlers
from app.api.telemetry import NO_TELEMETRY
from app.api.webhooks import crm as crm_webhooks
from app.api.webhooks import ctms as ctms_webhooks
from app.api.webhooks import outbound_messages as outbound_message_webhooks
from app.api.webhooks import spark as spark_webhooks
from app.config import Settings
from app.context import Resources
from app.logging import configure_logging, get_logger
from app.migrate import SchemaOutOfDate, ensure_schema_current, upgrade_to_head_async
from app.worker.jobs import JOBS
from app.worker.periodic import PERIODIC, heartbeat_loop, run_periodic_loop
from app.worker.queue import ArqQueue, InProcessQueue, JobQueue

log = get_logger(__name__)


def _open_queue(settings: Settings) -> JobQueue:
    # ArqQueue connects lazily: with Redis down the API still starts and stores webhooks, and the
    # sweeper enqueues them once Redis is back.
    return ArqQueue(settings.redis_url) if settings.redis_url else InProcessQueue(JOBS)


async def _check_schema(resources: Resources) -> None:
    settings = resources.settings
    if settings.embedded:
        await upgrade_to_head_async(settings.database_url)  # no separate migrate step for newcomers
        return
    try:
        await ensure_schema_current(resources.engine)
    except SchemaOutOfDate:
        raise
    except Exception as exc:
        # Unreachable now: start anyway so /readyz can say so; webhooks answer 503 meanwhile.
        log.warning("database_unreachable_at_startup", error=type(exc).__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_json)
        settings.check()
        queue = _open_queue(settings)
        resources = await Resources.open(settings, queue)
        await _check_schema(resources)
        app.state.resources = resources
        loops: list[asyncio.Task[None]] = []
        if isinstance(queue, InProcessQueue):
            queue.ctx["resources"] = resources
            loops = [asyncio.create_task(run_periodic_loop(p, settings, queue.enqueue)) for p in PERIODIC]
            loops.append(asyncio.create_task(heartbeat_loop(resources)))
        log.info(
            "api_started", embedded=settings.embedded, queue="arq" if settings.redis_url else "in-process"
        )
        try:
            yield
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await resources.close()

    app = FastAPI(
        title="ctms-crm-bridge",
        version="0.1.0",
        summary="Keeps a Veeva Vault CTMS and Medical CRM orgs in step.",
        description=DESCRIPTION,
        docs_url=None,  # install_docs serves both pages from the package, not a CDN
        redoc_url=None,
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
    )
    install_problem_handlers(app)
    # The webhooks first: a request is matched against the routes in order, and they are the hot path.
    app.include_router(ctms_webhooks.router)
    app.include_router(crm_webhooks.router)
    app.include_router(spark_webhooks.router)
    app.include_router(outbound_message_webhooks.router)
    install_openapi(app)
    install_docs(app)
    app.add_middleware(NulGuardMiddleware)
    # added last, so outermost: the NUL guard's own body read is under the deadline too
    app.add_middleware(BodyReadTimeoutMiddleware, timeout_seconds=settings.body_read_timeout_seconds)
    app.include_router(health.router)
    app.include_router(operator_api.router)
    app.include_router(console.router)
    app.mount(console.STATIC_PATH, console.static_files(), name="console-static")
    return app
