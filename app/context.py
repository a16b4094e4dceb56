"""Process-wide resources, made once per process (API or worker) and shared by every request and job."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clients.registry import ClientRegistry
from app.config import Settings
from app.db import POOL_OVERFLOW, POOL_SIZE, create_engine, create_sessionmaker, is_postgres
from app.logging import get_logger
from app.repositories.inbox_writer import MAX_FLUSHES, InboxWriter
from app.services.throttle import SharedGate
from app.services.wakeups import PlannerDoorbell
from app.worker.queue import JobQueue

log = get_logger(__name__)
RESERVED = 4  # pooled connections left for the planner, the sweeper and the Transfer job
BATCH_TURNS = 2


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    queue: JobQueue
    http: httpx.AsyncClient
    worker_id: str
    clients: ClientRegistry
    inbox_writer: InboxWriter
    ingest_engine: AsyncEngine
    doorbell: PlannerDoorbell
    # A lane drain holds two pooled connections (its lock's and its work's): at most this many drains
    # run at once per process, so they can never take the whole pool and wait on each other for ever.
    drain_slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(max(1, (POOL_SIZE + POOL_OVERFLOW - RESERVED) // 2))
    )

    # Batches of this process prepare and record in turn (app/clients/turns.py), two at a time: one
    # computes while the other waits on the database.
    batch_turn: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(BATCH_TURNS))

    @classmethod
    async def open(cls, settings: Settings, queue: JobQueue) -> Resources:
        engine = create_engine(settings.database_url)
        timeout = httpx.Timeout(settings.http_timeout_seconds, connect=10.0)
        http = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=100))
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        sessionmaker = create_sessionmaker(engine)
        gate = SharedGate(
            sessionmaker,
            recheck_seconds=settings.throttle_recheck_seconds,
            max_wait=settings.throttle_max_wait_seconds,
            default_pause=settings.throttle_default_seconds,
        )
        clients = ClientRegistry(http, settings, gate)
        # Webhook intake has its own small pool: no pre-ping (the writer retries a broken connection once
        # instead), and autocommit, so a batch is one round trip (its single INSERT is its transaction).
        # It opens no connection until the first webhook, so workers never use it.
        ingest_engine = engine
        if is_postgres(engine):
            ingest_engine = create_engine(
                settings.database_url,
                pool_pre_ping=False,
                pool_size=MAX_FLUSHES + 1,
                max_overflow=2,
                isolation_level="AUTOCOMMIT",
            )
        doorbell = PlannerDoorbell(queue, on_error=_log_wake_failure)
        return cls(
            settings,
            engine,
            sessionmaker,
            queue,
            http,
            worker_id,
            clients,
            InboxWriter(ingest_engine),
            ingest_engine,
            doorbell,
        )

    async def close(self) -> None:
        await self.inbox_writer.close()
        await self.http.aclose()
        await self.queue.close()
        if self.ingest_engine is not self.engine:
            await self.ingest_engine.dispose()
        await self.engine.dispose()


def _log_wake_failure(exc: Exception) -> None:
    log.warning("planner_wake_failed_events_kept", error=type(exc).__name__)


def resources_from(ctx: dict[str, object]) -> Resources:
    resources = ctx["resources"]
    assert isinstance(resources, Resources)
    return resources
