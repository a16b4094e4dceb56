"""Claims (app/repositories/deliveries.py): a record with a change still out is not claimed again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Delivery
from app.repositories import deliveries as repo

LANE = "c1:interaction:0"


async def due(session: AsyncSession, source_id: str, at: datetime) -> Delivery:
    delivery = Delivery(
        connection_id="c1",
        direction="ctms_to_crm",
        operation="upsert_interaction",
        lane=LANE,
        source_object="clinical_activity__v",
        source_id=source_id,
        next_attempt_at=at,
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def test_a_newer_change_waits_while_the_records_earlier_change_is_out(session: AsyncSession) -> None:
    now = datetime.now(UTC)
    await due(session, "R1", now - timedelta(seconds=2))
    await due(session, "R2", now - timedelta(seconds=2))
    [first, _] = await repo.claim(session, LANE, "w1", now, 60, 10)  # R1's and R2's changes go out
    newer = await due(session, "R1", now)  # R1 changes again while its first change is out
    await due(session, "R3", now)

    claimed = await repo.claim(session, LANE, "w1", now, 60, 10)
    assert [d.source_id for d in claimed] == ["R3"]  # the next batch: R1 waits for its change out

    await repo.finish_many(session, "w1", now, [{"id": first.id, "status": "delivered"}])
    [after] = await repo.claim(session, LANE, "w1", now, 60, 10)
    assert after.id == newer.id


async def test_a_dead_workers_claim_holds_nothing_back_once_its_lease_ran_out(session: AsyncSession) -> None:
    now = datetime.now(UTC)
    stuck = await due(session, "R1", now - timedelta(seconds=5))
    await repo.claim(session, LANE, "dead-worker", now - timedelta(seconds=120), 60, 10)  # lease long gone
    newer = await due(session, "R1", now)

    claimed = await repo.claim(session, LANE, "w2", now, 60, 10)
    assert sorted(d.id for d in claimed) == sorted([stuck.id, newer.id])  # both: the batch keeps the newest
