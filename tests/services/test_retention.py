"""Retention prunes old finished work in bounded batches and nothing else."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_sessionmaker
from app.models import AuditEntry, Delivery, DeliveryAttempt, InboxEvent, RecordLink, utcnow
from app.services.retention import prune

OLD, NEW = timedelta(days=40), timedelta(days=1)


async def test_old_finished_work_goes_the_rest_stays(clean_db: AsyncEngine) -> None:
    sessions = create_sessionmaker(clean_db)
    now = utcnow()
    kept: dict[str, list[int]] = {"events": [], "deliveries": []}
    serial = itertools.count()
    async with sessions() as session, session.begin():

        async def event(age: timedelta, status: str = "processed") -> InboxEvent:
            e = InboxEvent(
                sender="ctms",
                webhook_id=f"w{next(serial)}",
                source="ctms",
                type="ctms.record.updated",
                payload={},
                status=status,
                received_at=now - age,
            )
            session.add(e)
            await session.flush()
            return e

        async def delivery(e: InboxEvent, age: timedelta, status: str, attempts: int = 3) -> Delivery:
            d = Delivery(
                event_id=e.id,
                direction="ctms_to_crm",
                operation="upsert_interaction",
                lane="c:interaction",
                source_object="crm_activity__v",
                source_id="V1",
                status=status,
                updated_at=now - age,
            )
            session.add(d)
            await session.flush()
            for n in range(attempts):
                session.add(
                    DeliveryAttempt(
                        delivery_id=d.id, number=n, target="crm", operation="upsert", outcome="success"
                    )
                )
            return d

        for _ in range(7):  # old and finished: all of it goes
            e = await event(OLD)
            await delivery(e, OLD, "delivered")
            await delivery(e, OLD, "dead")
        e = await event(OLD)  # old event, recently finished delivery: both stay
        kept["events"].append(e.id)
        kept["deliveries"].append((await delivery(e, NEW, "delivered")).id)
        e = await event(OLD)  # old event with an open delivery: both stay
        kept["events"].append(e.id)
        kept["deliveries"].append((await delivery(e, OLD, "pending")).id)
        kept["events"].append((await event(OLD, status="received")).id)  # not yet planned: stays
        kept["events"].append((await event(NEW)).id)
        session.add(
            RecordLink(
                connection_id="c", source_system="ctms", source_object="o", source_id="V1", target_object="t"
            )
        )
        session.add(AuditEntry(actor="a", action="x", resource_type="r", at=now - OLD))

    counts = await prune(sessions, timedelta(days=30), batch_rows=4)

    assert counts == {"attempts": 42, "deliveries": 14, "events": 7}
    async with sessions() as session:
        events = set((await session.execute(select(InboxEvent.id))).scalars())
        deliveries = set((await session.execute(select(Delivery.id))).scalars())
        attempts = (await session.execute(select(func.count()).select_from(DeliveryAttempt))).scalar_one()
        links = (await session.execute(select(func.count()).select_from(RecordLink))).scalar_one()
        audit = (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    assert events == set(kept["events"])
    assert deliveries == set(kept["deliveries"])
    assert attempts == 6  # those of the two deliveries kept
    assert links == 1
    assert audit == 1


async def test_batches_are_bounded(clean_db: AsyncEngine) -> None:
    """Each statement deletes at most batch_rows: a run over 10 old events with batches of 3 takes 4."""
    from app.repositories import retention

    sessions = create_sessionmaker(clean_db)
    now = utcnow()
    async with sessions() as session, session.begin():
        for n in range(10):
            session.add(
                InboxEvent(
                    sender="ctms",
                    webhook_id=f"b{n}",
                    source="ctms",
                    type="t",
                    payload={},
                    status="processed",
                    received_at=now - OLD,
                )
            )
    sizes = []
    while True:
        async with sessions() as session, session.begin():
            sizes.append(await retention.delete_events(session, now - timedelta(days=30), 3))
        if sizes[-1] < 3:
            break
    assert sizes == [3, 3, 3, 1]
