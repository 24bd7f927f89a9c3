"""Plotly figures of the last snapshots. Fixed layout and `uirevision` keep a refresh in place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

# Consecutive snapshots further apart than this many of the usual steps (a sidecar restart, a
# disconnection) are not joined by a line.
GAP_FACTOR = 3


def _time(snapshot: dict[str, Any], zone: ZoneInfo) -> datetime:
    """The snapshot's time on the wall clock of `zone` (Plotly draws a zone-aware time in UTC)."""
    moment = datetime.fromisoformat(snapshot["timestamp"].replace("Z", "+00:00"))
    return moment.astimezone(zone).replace(tzinfo=None)


def _with_gaps(times: list[datetime], values: list[float]) -> tuple[list[datetime | None], list[float | None]]:
    if len(times) < 3:
        return list(times), list(values)
    steps = sorted((b - a).total_seconds() for a, b in pairwise(times))
    usual = steps[len(steps) // 2]
    xs: list[datetime | None] = [times[0]]
    ys: list[float | None] = [values[0]]
    for previous, moment, value in zip(times, times[1:], values[1:], strict=False):
        if usual > 0 and (moment - previous).total_seconds() > GAP_FACTOR * usual:
            xs.append(None)
            ys.append(None)
        xs.append(moment)
        ys.append(value)
    return xs, ys


def line_chart(
    snapshots: Sequence[dict[str, Any]],
    value: Callable[[dict[str, Any]], float],
    *,
    title: str,
    color: str,
    tz: str,
    money_prefix: str | None = None,
) -> go.Figure:
    """One line over the snapshots (oldest first), time on x in the zone `tz`; a gap where updates
    were missing. Without `money_prefix` the values are counts: whole numbers on the axis.

    The layout goes into the constructor: `update_layout` on a built figure walks Plotly's
    relayout machinery and cost 4x the whole build (bench/dashboard_soak.py).
    """
    zone = ZoneInfo(tz)
    values = [value(s) for s in snapshots]
    xs, ys = _with_gaps([_time(s, zone) for s in snapshots], values)
    trace = go.Scatter(
        x=xs,
        y=ys,
        mode="lines+markers",
        connectgaps=False,
        line={"color": color, "width": 2},
        marker={"size": 5},
        hovertemplate=(f"{money_prefix}%{{y:,.2f}}" if money_prefix else "%{y:,}") + "<extra></extra>",
    )
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 15}},
        "height": 300,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "uirevision": "live",  # keep zoom and hover state across redraws
        "transition": {"duration": 300, "easing": "cubic-in-out"},
        "showlegend": False,
        "xaxis": {"tickformat": "%H:%M:%S", "showgrid": False, "title": {"text": f"Time ({tz})"}},
        "yaxis": {"tickprefix": money_prefix or "", "rangemode": "tozero", "separatethousands": True},
    }
    if money_prefix is None:
        # No 0.2 of a user: whole ticks, one apart while the values are small.
        layout["yaxis"] |= {"tickformat": ",d", **({"dtick": 1} if max(values, default=0) < 5 else {})}
    return go.Figure(data=[trace], layout=layout)
