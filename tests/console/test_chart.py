"""The overview's throughput chart: one bar per interval, scaled to the busiest, each with its count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.console.chart import HEADROOM, bars

SINCE = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_bars_scale_to_the_busiest_interval_below_the_max_label() -> None:
    svg = str(bars([0, 2, 4], since=SINCE, bucket=timedelta(minutes=5), label="EU <CRM>"))
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    tops = [float(y) for y in re.findall(r'<rect [^>]*y="([\d.]+)"', svg)]
    assert heights[0] == 0
    assert heights[2] == 2 * heights[1] > 0
    assert min(tops) >= HEADROOM  # the tallest bar leaves room for "max 4"
    assert "<title>4 delivered 10:10–10:15 UTC</title>" in svg
    assert "max 4" in svg
    assert 'aria-label="EU &lt;CRM&gt;"' in svg


def test_an_idle_hour_draws_empty_bars() -> None:
    svg = str(bars([0] * 12, since=SINCE, bucket=timedelta(minutes=5), label="idle"))
    assert svg.count("<rect") == 12
    assert set(re.findall(r'<rect [^>]*height="([\d.]+)"', svg)) == {"0.0"}
