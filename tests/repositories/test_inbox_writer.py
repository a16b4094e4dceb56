"""The webhook group commit: concurrent events share commits, answers match rows, bad data stays alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine
from app.repositories.inbox_store import NewEvent
from app.repositories.inbox_writer import EventUnstorable, InboxWriter


def new_event(webhook_id: str, payload_json: str = '{"type": "ctms.record.updated"}') -> NewEvent:
    return NewEvent(
        sender="ctms",
        webhook_id=webhook_id,
        source="ctms",
        connection_id=None,
        type="ctms.record.updated",
        object="crm_activity__v",
        record_id="V6A1",
        source_modified_at=None,
        payload_json=payload_json,
    )


@pytest.fixture
async def writer(clean_db: AsyncEngine, pg_url: str) -> Any:
    engine = create_engine(pg_url, pool_pre_ping=False)
    commits: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    writer = InboxWriter(engine)
    writer.commits = commits  # type: ignore[attr-defined]
    yield writer
    await writer.close()
    await engine.dispose()


async def stored(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT id, webhook_id FROM inbox_events ORDER BY id"))).all())


async def test_concurrent_events_are_stored_in_a_few_shared_commits(
    writer: InboxWriter, clean_db: AsyncEngine
) -> None:
    answers = await asyncio.gather(*(writer.store(new_event(f"w{n}")) for n in range(300)))
    rows = await stored(clean_db)
    assert len(rows) == 300
    assert sorted(event_id for event_id, _new in answers) == [r.id for r in rows]
    assert all(new for _id, new in answers)
    assert 1 <= len(writer.commits) <= 3  # type: ignore[attr-defined]  # one per batch, not one per event


async def test_repeats_of_one_id_in_one_batch_get_its_id_and_only_the_first_is_new(
    writer: InboxWriter, clean_db: AsyncEngine
) -> None:
    answers = await asyncio.gather(*(writer.store(new_event("odd" if n % 2 else "even")) for n in range(50)))
    ids = {event_id for event_id, _new in answers}
    assert len(ids) == 2
    assert sum(new for _id, new in answers) == 2
    assert len(await stored(clean_db)) == 2
    again = await writer.store(new_event("odd"))
    assert again[1] is False
    assert again[0] in ids


async def test_an_event_the_database_refuses_does_not_refuse_the_rest_of_its_batch(
    writer: InboxWriter, clean_db: AsyncEngine
) -> None:
    events = [new_event(f"ok{n}") for n in range(10)]
    events.insert(5, new_event("bad", payload_json='{"unterminated": '))  # PostgreSQL: not JSON (22P02)
    results = await asyncio.gather(*(writer.store(e) for e in events), return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1
    assert isinstance(refused[0], EventUnstorable)
    assert (refused[0].sqlstate or "").startswith("22")
    assert isinstance(results[5], EventUnstorable)
    assert sorted(r.webhook_id for r in await stored(clean_db)) == sorted(f"ok{n}" for n in range(10))
