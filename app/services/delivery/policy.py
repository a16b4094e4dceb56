"""When to try again: exponential backoff with jitter, floored by what the target asked for, for as long
as the retry horizon lasts (a time, not a number of attempts: a long CRM outage must not use it up in
minutes)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from app.models import DeliveryStatus
from app.repositories.rows import DeliveryRow
from app.services.delivery.outcomes import Outcome

BASE_SECONDS = 1.0
CAP_SECONDS = 15 * 60.0


def backoff_seconds(
    attempts: int,
    retry_after: float | None = None,
    *,
    base: float = BASE_SECONDS,
    cap: float = CAP_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """Delay before attempt number `attempts + 1`: 1 s, 2 s, 4 s … up to 15 min, each with ±50% jitter.
    A Retry-After from the target is a floor: we never come back sooner than it asked."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    delay = min(cap, base * 2.0 ** max(0, attempts - 1)) * (0.5 + rng.random())
    return max(delay, retry_after or 0.0)


def finish_values(
    delivery: DeliveryRow, outcome: Outcome, now: datetime, *, horizon: float, base: float, cap: float
) -> dict[str, Any]:
    """The columns one outcome writes: its status, or when to try again, or a dead letter once transient
    failures have gone on for longer than the retry horizon (time, not a count of attempts)."""
    values: dict[str, Any] = {
        "id": delivery.id,
        "status": outcome.status,
        "last_error_code": outcome.error_code,
        "last_error": outcome.error,
        "target_object": outcome.target_object,
        "target_id": outcome.target_id,
        "payload": {**delivery.payload, "created": outcome.created}
        if outcome.status == DeliveryStatus.DELIVERED
        else None,
        "next_attempt_at": None,
        "retrying_since": None,
        "finished_at": None,
    }
    if outcome.paused_until is not None:
        # Held back by the target's throttle gate before any call: not an attempt, so the claim's count is
        # undone and the retry horizon's clock is left as it was (a pause never dead-letters anything).
        values["next_attempt_at"] = outcome.paused_until
        values["retrying_since"] = delivery.retrying_since
        values["attempts"] = max(0, delivery.attempts - 1)
    elif outcome.retry:
        since = delivery.retrying_since or now
        if (now - since).total_seconds() >= horizon:
            values["status"] = DeliveryStatus.DEAD
            values["last_error"] = (
                f"gave up after retrying for {_duration(now - since)} ({delivery.attempts} attempts): "
                f"{outcome.error}"
            )
        else:
            delay = backoff_seconds(
                delivery.attempts,
                outcome.retry_after,
                base=base,
                cap=cap,
            )
            values["next_attempt_at"] = now + timedelta(seconds=delay)
            values["retrying_since"] = since
    if values["status"] not in (DeliveryStatus.PENDING, DeliveryStatus.UNMATCHED):
        values["finished_at"] = now
    return values


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds >= 3600 else f"{seconds} s"
