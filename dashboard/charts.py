"""Plotly figures of the last snapshots. Fixed layout and `uirevision` keep a refresh in place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import plotly.graph_objects as go


def _time(snapshot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(snapshot["timestamp"].replace("Z", "+00:00"))


def line_chart(
    snapshots: Sequence[dict[str, Any]],
    value: Callable[[dict[str, Any]], float],
    *,
    title: str,
    color: str,
    money_prefix: str | None = None,
) -> go.Figure:
    """One line over the snapshots (oldest first), time on x."""
    figure = go.Figure(
        go.Scatter(
            x=[_time(s) for s in snapshots],
            y=[value(s) for s in snapshots],
            mode="lines+markers",
            line={"color": color, "width": 2, "shape": "spline", "smoothing": 0.6},
            marker={"size": 5},
            hovertemplate=(f"{money_prefix}%{{y:,.2f}}" if money_prefix else "%{y:,}") + "<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=300,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        uirevision="live",  # keep zoom and hover state across redraws
        showlegend=False,
        xaxis={"tickformat": "%H:%M:%S", "showgrid": False},
        yaxis={"tickprefix": money_prefix or "", "rangemode": "tozero", "separatethousands": True},
    )
    return figure
