"""When periodic jobs fire: one schedule for arq's cron (workers) and the in-process loops (`bridge
serve` without Redis), so "when is the next Transfer run?" has one answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def _step(wanted: int, cycle: int) -> int:
    return next(d for d in range(max(1, wanted), cycle + 1) if cycle % d == 0)


def period_seconds(interval: float) -> int:
    """The period actually kept: `interval` rounded up to a step that divides the minute, the hour or
    the day (at most once a day), so that runs fall on the same wall-clock marks everywhere."""
    seconds = max(1, round(interval))
    if seconds < 60:
        return _step(seconds, 60)
    if seconds < 3600:
        return 60 * _step(round(seconds / 60), 60)
    return 3600 * _step(min(24, round(seconds / 3600)), 24)


def cron_fields(interval: float) -> dict[str, Any]:
    """arq cron takes sets of seconds/minutes/hours: the schedule that fires every `period_seconds`."""
    seconds = max(1, round(interval))
    if seconds < 60:
        return {"second": set(range(0, 60, _step(seconds, 60)))}
    if seconds < 3600:
        return {"minute": set(range(0, 60, _step(round(seconds / 60), 60))), "second": {0}}
    hours = min(24, round(seconds / 3600))
    return {"hour": set(range(0, 24, _step(hours, 24))), "minute": {0}, "second": {0}}


def next_fire(interval: float, now: datetime) -> datetime:
    """The first mark of the schedule strictly after `now` (marks are multiples of the period since
    midnight, UTC, as arq's cron counts them)."""
    period = period_seconds(interval)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds()
    return midnight + timedelta(seconds=(int(elapsed // period) + 1) * period)
