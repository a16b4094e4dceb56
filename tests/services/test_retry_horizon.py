"""Issue 11 point 6: transient failures are retried for a horizon of time, not a number of attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.models import Delivery, DeliveryStatus
from app.services.delivery.outcomes import Outcome
from app.services.delivery.policy import finish_values

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
HORIZON = 72 * 3600


def delivery(attempts: int, retrying_since: datetime | None) -> Delivery:
    return Delivery(
        id=1, direction="ctms_to_crm", operation="upsert_interaction", lane="c:interaction:0",
        source_object="crm_activity__v", source_id="V1", attempts=attempts, retrying_since=retrying_since,
    )  # fmt: skip


def judge(d: Delivery, outcome: Outcome) -> dict[str, object]:
    return finish_values(d, outcome, NOW, horizon=HORIZON, base=1.0, cap=900.0)


def test_the_first_transient_failure_starts_the_clock_and_schedules_a_retry() -> None:
    values = judge(delivery(1, None), Outcome.again("HTTP_503", "down"))
    assert values["status"] == DeliveryStatus.PENDING
    assert values["retrying_since"] == NOW
    assert NOW < values["next_attempt_at"] <= NOW + timedelta(seconds=2)  # type: ignore[operator]
    assert values["finished_at"] is None


def test_many_attempts_inside_the_horizon_still_retry_with_capped_backoff() -> None:
    since = NOW - timedelta(hours=10)
    values = judge(delivery(40, since), Outcome.again("HTTP_503", "down"))  # 40 attempts: not a reason
    assert values["status"] == DeliveryStatus.PENDING
    assert values["retrying_since"] == since
    assert values["next_attempt_at"] <= NOW + timedelta(seconds=900 * 1.5)  # type: ignore[operator]


def test_past_the_horizon_a_transient_failure_becomes_a_dead_letter_that_says_why() -> None:
    values = judge(delivery(25, NOW - timedelta(hours=72, seconds=1)), Outcome.again("HTTP_503", "down"))
    assert values["status"] == DeliveryStatus.DEAD
    assert values["finished_at"] == NOW
    assert values["last_error"] == "gave up after retrying for 72 h 0 min (25 attempts): down"


def test_a_success_clears_the_clock() -> None:
    values = judge(
        delivery(3, NOW - timedelta(hours=1)), Outcome.delivered("Obj__c", "a01", None, None, created=True)
    )
    assert values["status"] == DeliveryStatus.DELIVERED
    assert values["retrying_since"] is None
    assert values["payload"] == {"created": True}
