"""F4: a deleted call inactivates its Medical Activity when the Transfer job runs. A deletion pushed by the
org waits for the next run; one the run found itself (poll only, or an org on Outbound Messages, which
announce no deletion) is that run's, so it is not held for yet another run."""

from __future__ import annotations

from app.models import Connection, DeliveryStatus, InboxEvent
from app.services import planning
from app.services.transfer.feed import CATCH_UP_PREFIX

CONNECTION = Connection(id="conn_a", name="A", platform="salesforce", active=True)


def deletion(webhook_id: str) -> InboxEvent:
    return InboxEvent(
        id=1, sender="conn_a", webhook_id=webhook_id, source="crm", connection_id="conn_a",
        type="crm.call.deleted", object="call", record_id="a0B5g00000XyZ12EAF", payload={},
    )  # fmt: skip


def test_a_pushed_deletion_waits_for_the_next_transfer_run() -> None:
    [planned] = planning.plan_crm(deletion("msg_1"), CONNECTION)
    assert (planned.operation, planned.status) == (
        "inactivate_medical_activity",
        DeliveryStatus.AWAITING_TRANSFER,
    )


def test_a_deletion_the_run_found_itself_is_applied_by_that_run() -> None:
    [planned] = planning.plan_crm(deletion(f"{CATCH_UP_PREFIX}deleted:a0B5g00000XyZ12EAF:2026"), CONNECTION)
    assert (planned.operation, planned.status) == ("inactivate_medical_activity", DeliveryStatus.PENDING)
