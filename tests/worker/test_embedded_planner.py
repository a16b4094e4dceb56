"""Embedded mode (SQLite, jobs in-process): planners that run at the same time plan each event once.

SQLite ignores ``FOR UPDATE SKIP LOCKED``, so without one planner at a time two concurrent
``process_inbox`` runs would read the same received events and fan each out twice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.context import Resources
from app.migrate import upgrade_to_head_async
from app.models import Delivery, InboxEvent
from app.services import intake
from app.worker.jobs.process_inbox import process_inbox
from app.worker.queue import InProcessQueue
from tests.conftest import make_settings
from tests.factories import add_connection, ctms_event

EVENTS = 300
PLANNERS = 6


async def _lanes_parked(_ctx: dict[str, Any], _lane: str) -> int:
    return 0  # this test counts planning; delivering is not its business


async def test_concurrent_planners_on_sqlite_plan_each_event_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bridge.sqlite3'}"
    await upgrade_to_head_async(url)
    queue = InProcessQueue({"process_inbox": process_inbox, "deliver_lane": _lanes_parked})
    resources = await Resources.open(make_settings(url), queue)
    queue.ctx["resources"] = resources
    try:
        async with resources.sessionmaker() as session, session.begin():
            connections = [(await add_connection(session))[0] for _ in range(2)]
            for n in range(EVENTS):
                body = ctms_event(record={"object_type__v": "clinical_activity__v"})
                await intake.store_event(
                    session,
                    source="ctms",
                    sender="ctms",
                    connection_id=None,
                    webhook_id=f"msg_embedded_{n}",
                    document=body,
                    type_=body["type"],
                    object_=body["data"]["object"],
                    record_id=body["data"]["id"],
                    source_modified_at=None,
                )

        planned = await asyncio.gather(*(process_inbox(queue.ctx) for _ in range(PLANNERS)))
        await queue.drain()

        async with resources.sessionmaker() as session:
            per_event = (
                await session.execute(select(Delivery.event_id, func.count()).group_by(Delivery.event_id))
            ).all()
            statuses = (
                await session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status))
            ).all()
    finally:
        await resources.close()

    assert sum(planned) == EVENTS  # every event claimed by exactly one planner
    assert dict(statuses) == {"processed": EVENTS}
    assert len(per_event) == EVENTS
    assert {count for _, count in per_event} == {len(connections)}  # one delivery per connection, once
