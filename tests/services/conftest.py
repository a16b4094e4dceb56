"""The in-process pipeline's world: simulators as real HTTP servers in this process, and the bridge's
resources on the test database with a queue whose wake-ups go nowhere, because each test plans and
drains the lanes itself (tests/services/test_pipeline.py). A module overrides `world` for another set
of orgs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.context import Resources
from app.worker.queue import InProcessQueue
from tests.conftest import make_settings
from tests.e2e.harness import World, simulated_world

PARTITIONS = 4


@pytest.fixture
def world() -> Iterator[World]:
    with simulated_world() as world:
        yield world


async def _drained_by_the_test(_ctx: object, _lane: str) -> None:
    """A wake-up (a retry's, say): the test drains the lane itself, when it says time has passed."""


@pytest.fixture
async def resources(clean_db: AsyncEngine, pg_url: str, world: World) -> AsyncIterator[Resources]:
    settings = make_settings(pg_url, connection_concurrency=PARTITIONS, **world.settings_values())
    res = await Resources.open(settings, InProcessQueue({"deliver_lane": _drained_by_the_test}))
    yield res
    await res.close()
