"""A running deployment for end-to-end tests: simulators, the bridge API, real worker processes."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.harness import World, bridge_server
from tests.processes import running_worker, worker_env


@asynccontextmanager
async def deployment(
    world: World,
    engine: AsyncEngine,
    pg_url: str,
    redis_url: str,
    *,
    workers: int = 1,
    log_dir: Path | None = None,
    **env: str,
) -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    """The bridge API (a real server) plus `workers` real `bridge worker` processes."""
    extra = {**world.worker_env(), **env}
    overrides: dict[str, Any] = {k.removeprefix("BRIDGE_").lower(): v for k, v in env.items()}
    with bridge_server(world, pg_url, redis_url, **overrides):
        async with AsyncExitStack() as stack:
            procs = []
            for n in range(workers):
                log = log_dir / f"worker-{n}.log" if log_dir else None
                procs.append(
                    await stack.enter_async_context(
                        running_worker(engine, worker_env(pg_url, redis_url, **extra), log)
                    )
                )
            yield procs


async def delivery_rows(engine: AsyncEngine, where: str = "true") -> list[Any]:
    async with engine.connect() as conn:
        result = await conn.execute(text(f"SELECT * FROM deliveries WHERE {where} ORDER BY id"))
        return list(result.mappings())
