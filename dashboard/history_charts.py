"""Plotly figures and number wording of the history and behaviour pages (the sidecar's JSON in)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from babel.numbers import get_currency_symbol

from dashboard import format
from dashboard.format import LOCALE
from dashboard.widgets import GREEN, RED, YELLOW

BLUE = "#3b82f6"
PURPLE = "#a855f7"
GREY = "#94a3b8"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
STATUSES = (("pending", "Pending", YELLOW), ("completed", "Completed", GREEN), ("failed", "Failed", RED))
METRIC_LABELS = {
    "revenue": "Revenue",
    "transactions": "Transactions",
    "active_users": "Active users",
    "views": "Views",
    "purchases": "Purchases",
    "conversion": "Conversion rate",
}

Point = dict[str, Any]


def _kind(metric: str) -> str:
    return {"revenue": "money", "conversion": "percent"}.get(metric, "count")


def local_times(points: Sequence[Point], tz: str) -> list[datetime]:
    """Bucket starts as wall-clock times of `tz`, the calendar the buckets are aligned to."""
    zone = ZoneInfo(tz)
    return [
        datetime.fromisoformat(p["start"].replace("Z", "+00:00")).astimezone(zone).replace(tzinfo=None) for p in points
    ]


def point_value(metric: str, point: Point) -> float:
    return point["total"] if metric == "transactions" else point["value"]


def has_data(metric: str, points: Sequence[Point]) -> bool:
    """False when there are no buckets or every one is zero."""
    return any(point_value(metric, p) for p in points)


def _layout(figure: go.Figure, title: str, **extra: Any) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=360,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        **extra,
    )
    return figure


def _hover(metric: str, currency: str) -> str:
    kind = _kind(metric)
    if kind == "money":
        return f"{get_currency_symbol(currency, locale=LOCALE)}%{{y:,.2f}}"
    return "%{y:.2f}%" if kind == "percent" else "%{y:,}"


def _previous_trace(xs: list[datetime], previous: Sequence[Point], metric: str, tz: str, hover: str) -> go.Scatter:
    """The previous period drawn over the current one, bucket i over bucket i."""
    count = min(len(xs), len(previous))
    return go.Scatter(
        name="Previous period",
        x=xs[:count],
        y=[point_value(metric, p) for p in previous[:count]],
        customdata=[t.isoformat(sep=" ") for t in local_times(previous[:count], tz)],
        mode="lines",
        line={"color": GREY, "width": 2, "dash": "dash"},
        hovertemplate=f"%{{customdata}}: {hover}<extra>Previous period</extra>",
    )


def comparison_chart(
    current: Sequence[Point], previous: Sequence[Point], *, metric: str, tz: str, currency: str
) -> go.Figure:
    """The metric's buckets as a line, the previous period dashed and grey behind it."""
    xs = local_times(current, tz)
    hover = _hover(metric, currency)
    figure = go.Figure(
        [
            _previous_trace(xs, previous, metric, tz, hover),
            go.Scatter(
                name="This period",
                x=xs,
                y=[point_value(metric, p) for p in current],
                mode="lines+markers",
                line={"color": BLUE, "width": 2},
                marker={"size": 5},
                hovertemplate=f"%{{x}}: {hover}<extra>This period</extra>",
            ),
        ]
    )
    kind = _kind(metric)
    prefix = get_currency_symbol(currency, locale=LOCALE) if kind == "money" else ""
    return _layout(
        figure,
        METRIC_LABELS[metric],
        yaxis={"tickprefix": prefix, "ticksuffix": "%" if kind == "percent" else "", "rangemode": "tozero"},
    )


def transactions_chart(current: Sequence[Point], previous: Sequence[Point], *, tz: str) -> go.Figure:
    """Transactions stacked by status in their colours; the previous period's totals dashed."""
    xs = local_times(current, tz)
    bars = [
        go.Bar(name=label, x=xs, y=[p[key] for p in current], marker_color=color, hovertemplate="%{y:,}")
        for key, label, color in STATUSES
    ]
    figure = go.Figure([*bars, _previous_trace(xs, previous, "transactions", tz, "%{y:,}")])
    return _layout(figure, "Transactions", barmode="stack", yaxis={"rangemode": "tozero"})


def funnel_chart(steps: Sequence[dict[str, Any]]) -> go.Figure:
    """Views → started → completed, each with its rate from the step before (the sidecar's)."""
    figure = go.Figure(
        go.Funnel(
            y=[s["step"].capitalize() for s in steps],
            x=[s["count"] for s in steps],
            text=[f"{s['count']:,} · {format.percent(s['rate'])}" for s in steps],
            textinfo="text",
            marker={"color": [BLUE, PURPLE, GREEN][: len(steps)]},
        )
    )
    return _layout(figure, "Purchase funnel")


def new_vs_returning_chart(days: Sequence[dict[str, Any]]) -> go.Figure:
    dates = [d["date"] for d in days]
    figure = go.Figure(
        [
            go.Bar(name="New", x=dates, y=[d["new"] for d in days], marker_color=BLUE),
            go.Bar(name="Returning", x=dates, y=[d["returning"] for d in days], marker_color=PURPLE),
        ]
    )
    return _layout(figure, "New and returning users", barmode="stack", xaxis={"type": "date"})


def heatmap_matrix(cells: Sequence[dict[str, Any]]) -> list[list[int]]:
    """7 rows (Monday first) of 24 hours; a cell the sidecar left out is 0."""
    matrix = [[0] * 24 for _ in WEEKDAYS]
    for cell in cells:
        matrix[cell["weekday"]][cell["hour"]] = cell["activeUsers"]
    return matrix


def heatmap_chart(cells: Sequence[dict[str, Any]]) -> go.Figure:
    figure = go.Figure(
        go.Heatmap(
            z=heatmap_matrix(cells),
            x=list(range(24)),
            y=list(WEEKDAYS),
            colorscale="Blues",
            hovertemplate="%{y} %{x}:00: %{z:,} active users<extra></extra>",
        )
    )
    return _layout(
        figure,
        "Active users by weekday and hour",
        xaxis={"dtick": 1, "title": {"text": "Hour (local)"}},
        yaxis={"autorange": "reversed"},
    )


def total_text(metric: str, value: float, currency: str) -> str:
    kind = _kind(metric)
    if kind == "money":
        return format.money(value, currency)
    return format.percent(value) if kind == "percent" else format.count(int(value))


def change_text(metric: str, current: float, previous: float, currency: str) -> str:
    """`+$234.50 (+23.45%)`; a rate changes by percentage points: `+0.50 pp`."""
    change = Decimal(str(current)) - Decimal(str(previous))
    kind = _kind(metric)
    if kind == "percent":
        return f"{change:+.2f} pp"
    text = format.money_delta(change, currency) if kind == "money" else f"{int(change):+,}"
    if previous:
        text += f" ({change / Decimal(str(previous)) * 100:+.2f}%)"
    return text
