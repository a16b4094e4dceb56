"""Throughput charts as inline SVG, drawn on the server: no chart library, nothing to load."""

from __future__ import annotations

from datetime import datetime, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT, AXIS, HEADROOM = 360, 90, 16, 14  # headroom: the max label sits above the bars


def bars(values: list[int], *, since: datetime, bucket: timedelta, label: str) -> Markup:
    """One bar per interval, oldest on the left; each bar has a tooltip with its count and time."""
    top = max(values, default=0) or 1
    slot = WIDTH / max(len(values), 1)
    plot = HEIGHT - AXIS
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(label)}">',
        f'<line x1="0" y1="{plot}" x2="{WIDTH}" y2="{plot}" class="axis"/>',
    ]
    for i, value in enumerate(values):
        height = round((plot - HEADROOM) * value / top, 1)
        start = since + i * bucket
        tip = f"{value} delivered {start:%H:%M}–{start + bucket:%H:%M} UTC"
        parts.append(
            f'<rect x="{round(i * slot + 1, 1)}" y="{round(plot - height, 1)}" '
            f'width="{round(slot - 2, 1)}" height="{height}" class="bar"><title>{escape(tip)}</title></rect>'
        )
    parts.append(f'<text x="0" y="{HEIGHT - 3}" class="tick">{since:%H:%M}</text>')
    parts.append(f'<text x="{WIDTH}" y="{HEIGHT - 3}" class="tick end">now</text>')
    parts.append(f'<text x="{WIDTH}" y="11" class="tick end">max {top}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - interpolated text is escaped above; the rest are numbers
