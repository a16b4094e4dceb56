"""Process-wide resources, made once per process (API or worker) and shared by every request and job."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clients.registry import ClientRegistry
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.services.throttle import SharedGate
from app.worker.queue import JobQueue


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    queue: JobQueue
    http: httpx.AsyncClient
    worker_id: str
    clients: ClientRegistry

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
        return cls(settings, engine, sessionmaker, queue, http, worker_id, clients)

    async def close(self) -> None:
        await self.http.aclose()
        await self.queue.close()
        await self.engine.dispose()


def resources_from(ctx: dict[str, object]) -> Resources:
    resources = ctx["resources"]
    assert isinstance(resources, Resources)
    return resources
