"""When to try again: exponential backoff with jitter, floored by what the target asked for."""

from __future__ import annotations

import random

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
