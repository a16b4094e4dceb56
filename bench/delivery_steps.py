"""What reading one delivery batch costs, measured in one process (no worker, no HTTP): the claim (UPDATE …
RETURNING), its events and its record links, for a batch of 200, as the engine reads them now (plain rows
from Core results, app/repositories/rows.py) and as ORM objects (what the engine loaded before).

The two ways take turns, `--rounds` rounds of `--count` batches each; each way's median round is reported.

    .venv/bin/python -m bench.delivery_steps [--rounds 5] [--count 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.db import create_engine, create_sessionmaker
from app.migrate import upgrade_to_head_async
from app.models import Delivery, DeliveryStatus, InboxEvent, RecordLink, utcnow
from app.repositories import deliveries as deliveries_repo
from app.repositories import links as links_repo
from bench.common import bench_database, machine, table

BATCH = 200
LANE, CONNECTION, OBJECT = "bench:interaction:0", "bench", "clinical_activity__v"
Reader = Callable[[AsyncSession], Awaitable[tuple[int, int, int]]]


async def as_orm_objects(session: AsyncSession) -> tuple[int, int, int]:
    now = utcnow()
    due = (
        select(col(Delivery.id))
        .where(col(Delivery.lane) == LANE, col(Delivery.status) == DeliveryStatus.PENDING)
        .order_by(col(Delivery.id))
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(Delivery)
        .where(col(Delivery.id).in_(due))
        .values(status=DeliveryStatus.IN_FLIGHT, lease_owner="bench", updated_at=now)
        .returning(Delivery)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    batch = list((await session.execute(claim)).scalars())
    ids = [d.event_id for d in batch]
    events = list((await session.execute(select(InboxEvent).where(col(InboxEvent.id).in_(ids)))).scalars())
    sources = [d.source_id for d in batch]
    links = (
        await session.execute(
            select(RecordLink).where(
                col(RecordLink.connection_id) == CONNECTION,
                col(RecordLink.source_system) == "ctms",
                col(RecordLink.source_object) == OBJECT,
                col(RecordLink.source_id).in_(sources),
            )
        )
    ).scalars()
    return len(batch), len(events), len(list(links))


async def as_plain_rows(session: AsyncSession) -> tuple[int, int, int]:
    batch = await deliveries_repo.claim(session, LANE, "bench", utcnow(), 60, BATCH)
    events = await deliveries_repo.events_for(session, batch)
    links = await links_repo.get_many(session, CONNECTION, "ctms", OBJECT, [d.source_id for d in batch])
    return len(batch), len(events), len(links)


async def seed(session: AsyncSession) -> None:
    """One batch of realistic size: ~1 KB event payloads, links with the fields last written."""
    now = utcnow()
    record = {f"field_{n}__v": "a value of some length" for n in range(30)}
    events = [
        {"sender": "ctms", "webhook_id": f"steps-{n}", "source": "ctms", "type": "ctms.record.updated",
         "payload": {"data": {"id": f"V{n}", "record": record}}, "status": "planned", "received_at": now}
        for n in range(BATCH)
    ]  # fmt: skip
    await session.execute(insert(InboxEvent.__table__), events)  # type: ignore[attr-defined]
    ids = [int(i) for (i,) in await session.execute(text("SELECT id FROM inbox_events ORDER BY id"))]
    deliveries = [
        {"event_id": event_id, "connection_id": CONNECTION, "direction": "ctms_to_crm",
         "operation": "upsert_interaction", "lane": LANE, "source_object": OBJECT, "source_id": f"V{n}",
         "payload": {}, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
         "updated_at": now}
        for n, event_id in enumerate(ids)
    ]  # fmt: skip
    await session.execute(insert(Delivery.__table__), deliveries)  # type: ignore[attr-defined]
    fields = {f"Field_{n}__c": "a value of some length" for n in range(15)}
    links = [
        {"connection_id": CONNECTION, "source_system": "ctms", "source_object": OBJECT, "source_id": f"V{n}",
         "target_object": "Vault_Clinical_Interaction_vod__c", "target_id": f"a{n}", "content_hash": "h",
         "last_fields": fields, "deleted": False, "updated_at": now}
        for n in range(BATCH)
    ]  # fmt: skip
    await session.execute(insert(RecordLink.__table__), links)  # type: ignore[attr-defined]


async def run(database_url: str, rounds: int, count: int) -> list[list[object]]:
    await upgrade_to_head_async(database_url)
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            await seed(session)
        ways: dict[str, Reader] = {"ORM objects (before)": as_orm_objects, "plain rows (now)": as_plain_rows}
        rounds_of: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, read in ways.items():
                wall = cpu = 0.0
                for _ in range(count):
                    async with sessions() as session, session.begin():
                        await session.execute(text("UPDATE deliveries SET status = 'pending'"))
                    started, cpu0 = time.perf_counter(), time.process_time()
                    async with sessions() as session, session.begin():
                        if await read(session) != (BATCH, BATCH, BATCH):
                            raise RuntimeError(f"{name} read less than the whole batch")
                    wall += time.perf_counter() - started
                    cpu += time.process_time() - cpu0
                rounds_of[name].append((wall / count * 1000, cpu / count * 1000))
        rows: list[list[object]] = []
        for name, measured in rounds_of.items():
            wall_ms = statistics.median(w for w, _ in measured)
            cpu_ms = statistics.median(c for _, c in measured)
            rows.append([name, wall_ms, cpu_ms, cpu_ms * 1000 / BATCH])
        return rows
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description="One delivery batch's reads, ORM objects vs plain rows")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=20, help="batches per way and round")
    args = parser.parse_args(argv)
    with bench_database() as database_url:
        rows: Any = asyncio.run(run(database_url, args.rounds, args.count))
    text_ = "\n".join(
        [
            f"## One batch's reads: claim + events + links of {BATCH} deliveries (medians of {args.rounds} rounds)",
            table(["read as", "wall ms per batch", "CPU ms per batch", "CPU µs per record"], rows),
        ]
    )
    print(text_)
    return text_


if __name__ == "__main__":
    print(machine() + "\n")
    main()
