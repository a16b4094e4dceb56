"""The hot path's plain rows (app/repositories/rows.py) carry what the ORM would have loaded."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Delivery, DeliveryStatus, InboxEvent, RecordLink
from app.repositories import deliveries as deliveries_repo
from app.repositories import links as links_repo
from app.repositories.rows import DeliveryRow, LinkRow


def test_each_row_type_has_every_column_of_its_table_in_table_order() -> None:
    # a row is built positionally from the columns: a column added to the table must be added here too
    for row_type, table in ((DeliveryRow, Delivery.__table__), (LinkRow, RecordLink.__table__)):  # type: ignore[attr-defined]
        assert [f.name for f in fields(row_type)] == list(table.c.keys())


async def test_a_claimed_delivery_and_its_event_read_as_the_orm_reads_them(session: AsyncSession) -> None:
    now = datetime.now(UTC)
    event = InboxEvent(
        sender="ctms",
        webhook_id="rows-1",
        source="ctms",
        type="ctms.record.updated",
        payload={"data": {"id": "V1", "name__v": "Ünïcode"}},
    )
    session.add(event)
    await session.flush()
    delivery = Delivery(
        event_id=event.id,
        connection_id="c1",
        direction="ctms_to_crm",
        operation="upsert_interaction",
        lane="c1:interaction:0",
        source_object="clinical_activity__v",
        source_id="V1",
        source_modified_at=now - timedelta(minutes=1),
        payload={"k": [1, 2]},
        next_attempt_at=now - timedelta(seconds=1),
    )
    session.add(delivery)
    await session.flush()

    [claimed] = await deliveries_repo.claim(session, "c1:interaction:0", "w1", now, 60, 10)
    events = await deliveries_repo.events_for(session, [claimed])

    await session.refresh(delivery)
    assert asdict(claimed) == asdict(DeliveryRow.of(delivery))
    assert (claimed.status, claimed.attempts, claimed.lease_owner) == (DeliveryStatus.IN_FLIGHT, 1, "w1")
    assert claimed.source_modified_at == now - timedelta(minutes=1)  # aware, as the ORM gives it
    assert events[int(event.id or 0)].payload == {"data": {"id": "V1", "name__v": "Ünïcode"}}
    assert events[int(event.id or 0)].type == "ctms.record.updated"


async def test_links_saved_and_read_back_as_plain_rows(session: AsyncSession) -> None:
    modified = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    base = {
        "connection_id": "c1",
        "source_system": "ctms",
        "source_object": "clinical_activity__v",
        "target_object": "Vault_Clinical_Interaction_vod__c",
    }
    await links_repo.save_many(
        session,
        [
            {**base, "source_id": "V1", "target_id": "a1", "last_applied_modified_at": modified,
             "content_hash": "h1", "last_fields": {"Subject": "x"}},
            {**base, "source_id": "V2", "target_id": None, "deleted": True},  # a tombstone: defaults filled
        ],
    )  # fmt: skip
    found = await links_repo.get_many(session, "c1", "ctms", "clinical_activity__v", ["V1", "V2", "V3"])

    assert set(found) == {"V1", "V2"}
    one, tomb = found["V1"], found["V2"]
    assert (one.target_id, one.content_hash, one.last_fields, one.deleted) == (
        "a1",
        "h1",
        {"Subject": "x"},
        False,
    )
    assert one.last_applied_modified_at == modified
    assert (tomb.target_id, tomb.deleted, tomb.last_fields, tomb.content_hash) == (None, True, {}, None)
