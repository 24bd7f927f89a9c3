"""Plotly figures of the last snapshots. Fixed layout and `uirevision` keep a refresh in place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

import plotly.graph_objects as go

# Consecutive snapshots further apart than this many of the usual steps (a sidecar restart, a
# disconnection) are not joined by a line.
GAP_FACTOR = 3


def _time(snapshot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(snapshot["timestamp"].replace("Z", "+00:00"))


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
    money_prefix: str | None = None,
) -> go.Figure:
    """One line over the snapshots (oldest first), time on x; a gap where updates were missing.

    The layout goes into the constructor: `update_layout` on a built figure walks Plotly's
    relayout machinery and cost 4x the whole build (bench/dashboard_soak.py).
    """
    xs, ys = _with_gaps([_time(s) for s in snapshots], [value(s) for s in snapshots])
    trace = go.Scatter(
        x=xs,
        y=ys,
        mode="lines+markers",
        connectgaps=False,
        line={"color": color, "width": 2},
        marker={"size": 5},
        hovertemplate=(f"{money_prefix}%{{y:,.2f}}" if money_prefix else "%{y:,}") + "<extra></extra>",
    )
    layout = {
        "title": {"text": title, "font": {"size": 15}},
        "height": 300,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "uirevision": "live",  # keep zoom and hover state across redraws
        "transition": {"duration": 300, "easing": "cubic-in-out"},
        "showlegend": False,
        "xaxis": {"tickformat": "%H:%M:%S", "showgrid": False},
        "yaxis": {"tickprefix": money_prefix or "", "rangemode": "tozero", "separatethousands": True},
    }
    return go.Figure(data=[trace], layout=layout)
