"""SQL for worker heartbeats."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import WorkerHeartbeat, utcnow


async def beat(session: AsyncSession, worker_id: str) -> None:
    row = await session.get(WorkerHeartbeat, worker_id)
    if row is None:
        session.add(WorkerHeartbeat(worker_id=worker_id, hostname=socket.gethostname(), pid=os.getpid()))
    else:
        row.seen_at = utcnow()
    await session.flush()


async def seen_since(session: AsyncSession, since: datetime) -> list[WorkerHeartbeat]:
    result = await session.execute(select(WorkerHeartbeat).where(col(WorkerHeartbeat.seen_at) >= since))
    return list(result.scalars())
