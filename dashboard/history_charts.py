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

MARKERS_UP_TO = 100  # a line of more buckets is drawn without a dot on each

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
    return float(point["total"] if metric == "transactions" else point["value"])


def has_data(metric: str, points: Sequence[Point]) -> bool:
    """False when there are no buckets or every one is zero."""
    return any(point_value(metric, p) for p in points)


# How a bucket start reads on the time axis, by interval.
_TICKS = {"minute": "%H:%M", "hour": "%b %d %H:%M", "day": "%b %d", "week": "%b %d", "month": "%b %Y"}


def time_axis(tz: str, interval: str | None = None) -> dict[str, Any]:
    """An x axis of wall-clock times, titled with the zone they are in."""
    axis: dict[str, Any] = {"title": {"text": f"Time ({tz})"}, "type": "date"}
    if interval is not None:
        axis["tickformat"] = _TICKS[interval]
        if interval == "month":
            axis["dtick"] = "M1"  # one tick per month, never a tick between two
    return axis


def count_axis(values: Sequence[float]) -> dict[str, Any]:
    """A y axis of whole numbers: no 0.5 users. Below 5 Plotly would step by fractions; one it is."""
    axis: dict[str, Any] = {"tickformat": ",d", "rangemode": "tozero"}
    if max(values, default=0) < 5:
        axis["dtick"] = 1
    return axis


def _layout(figure: go.Figure, title: str, **extra: Any) -> go.Figure:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 15}},
        "height": 360,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    }
    figure.update_layout(**{**layout, **extra})
    return figure


def _hover(metric: str, currency: str) -> str:
    kind = _kind(metric)
    if kind == "money":
        return f"{get_currency_symbol(currency, locale=LOCALE)}%{{y:,.2f}}"
    return "%{y:.2f}%" if kind == "percent" else "%{y:,}"


def _previous_trace(
    xs: Sequence[datetime], previous: Sequence[Point], metric: str, tz: str, hover: str, *, bars: bool
) -> go.Scatter | go.Bar:
    """The previous period drawn over the current one, bucket i over bucket i."""
    count = min(len(xs), len(previous))
    common: dict[str, Any] = {
        "name": "Previous period",
        "x": list(xs[:count]),
        "y": [point_value(metric, p) for p in previous[:count]],
        "customdata": [t.isoformat(sep=" ") for t in local_times(previous[:count], tz)],
        "hovertemplate": f"%{{customdata}}: {hover}<extra>Previous period</extra>",
    }
    if bars:
        return go.Bar(**common, marker_color=GREY)
    return go.Scatter(**common, mode="lines", line={"color": GREY, "width": 2, "dash": "dash"})


def comparison_chart(
    current: Sequence[Point],
    previous: Sequence[Point],
    *,
    xs: Sequence[datetime],
    metric: str,
    tz: str,
    currency: str,
    interval: str,
    to_same_point: float | None = None,
) -> go.Figure:
    """The metric's buckets, the previous period's behind them: lines, or side-by-side bars for
    weeks and months (a handful of points, which as lines would only cross).

    `to_same_point`: while the last bucket is under way, its previous-period bucket's figure up to
    the same point, drawn as a marker on that bucket: what the last bar or point is to be read
    against, beside the previous bucket's whole figure.

    `xs` holds the wall-clock start of every bucket of the current period, those still to come
    included: the previous period is drawn over all of them, the current one only as far as it has
    happened (`current` holds just those buckets).
    """
    hover = _hover(metric, currency)
    bars = interval in ("week", "month")
    values = [point_value(metric, p) for p in current]
    shown = list(xs[: len(current)])
    this: go.Scatter | go.Bar
    if bars:
        this = go.Bar(name="This period", x=shown, y=values, marker_color=BLUE, hovertemplate=f"%{{x}}: {hover}")
    else:
        this = go.Scatter(
            name="This period",
            x=shown,
            y=values,
            mode="lines+markers" if len(values) <= MARKERS_UP_TO else "lines",  # hundreds of dots blur
            line={"color": BLUE, "width": 2},
            marker={"size": 5},
            hovertemplate=f"%{{x}}: {hover}<extra>This period</extra>",
        )
    figure = go.Figure([_previous_trace(xs, previous, metric, tz, hover, bars=bars), this])
    if to_same_point is not None and shown:
        figure.add_trace(
            go.Scatter(
                name="Previous period, to the same point",
                x=[shown[-1]],
                y=[to_same_point],
                mode="markers",
                marker={"symbol": "diamond", "size": 12, "color": GREY, "line": {"color": "white", "width": 1}},
                hovertemplate=f"{hover}<extra>Previous period, to the same point</extra>",
            )
        )
    kind = _kind(metric)
    if kind == "count":
        yaxis = count_axis([*values, *(point_value(metric, p) for p in previous)])
    else:
        prefix = get_currency_symbol(currency, locale=LOCALE) if kind == "money" else ""
        suffix = "%" if kind == "percent" else ""
        yaxis = {"tickprefix": prefix, "ticksuffix": suffix, "rangemode": "tozero", "separatethousands": True}
    extra = {"barmode": "group"} if bars else {}
    return _layout(figure, METRIC_LABELS[metric], xaxis=time_axis(tz, interval), yaxis=yaxis, **extra)


def transactions_chart(
    current: Sequence[Point], previous: Sequence[Point], *, xs: Sequence[datetime], tz: str, interval: str
) -> go.Figure:
    """Transactions stacked by status in their colours; the previous period's totals dashed."""
    shown = list(xs[: len(current)])
    bars = [
        go.Bar(name=label, x=shown, y=[p[key] for p in current], marker_color=color, hovertemplate="%{y:,}")
        for key, label, color in STATUSES
    ]
    figure = go.Figure([*bars, _previous_trace(xs, previous, "transactions", tz, "%{y:,}", bars=False)])
    totals = [p["total"] for p in (*current, *previous)]
    return _layout(figure, "Transactions", barmode="stack", xaxis=time_axis(tz, interval), yaxis=count_axis(totals))


def funnel_chart(steps: Sequence[dict[str, Any]]) -> go.Figure:
    """Views → started → completed as horizontal bars, each labelled beside its bar with its count
    and its rate from the step before (the sidecar's): a thin bar never hides its label."""
    counts = [s["count"] for s in steps]
    figure = go.Figure(
        go.Bar(
            orientation="h",
            y=[s["step"].capitalize() for s in steps],
            x=counts,
            text=[
                f"{s['count']:,}" + ("" if n == 0 else f" · {format.percent(s['rate'])} of {steps[n - 1]['step']}")
                for n, s in enumerate(steps)
            ],
            textposition="outside",
            cliponaxis=False,
            marker={"color": [BLUE, PURPLE, GREEN][: len(steps)]},
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    # Room right of the longest bar for its label.
    xaxis = {"range": [0, max(counts, default=0) * 1.35 or 1], "tickformat": ",d", "title": {"text": "Count"}}
    return _layout(
        figure, "Purchase funnel", xaxis=xaxis, yaxis={"autorange": "reversed"}, height=280, showlegend=False
    )


def new_vs_returning_chart(days: Sequence[dict[str, Any]], tz: str) -> go.Figure:
    dates = [d["date"] for d in days]
    figure = go.Figure(
        [
            go.Bar(name="New", x=dates, y=[d["new"] for d in days], marker_color=BLUE),
            go.Bar(name="Returning", x=dates, y=[d["returning"] for d in days], marker_color=PURPLE),
        ]
    )
    totals = [d["new"] + d["returning"] for d in days]
    return _layout(
        figure,
        "New and returning users",
        barmode="stack",
        xaxis={"type": "date", "title": {"text": f"Day ({tz})"}},
        yaxis=count_axis(totals),
    )


def heatmap_matrix(cells: Sequence[dict[str, Any]]) -> list[list[int]]:
    """7 rows (Monday first) of 24 hours; a cell the sidecar left out is 0."""
    matrix = [[0] * 24 for _ in WEEKDAYS]
    for cell in cells:
        matrix[cell["weekday"]][cell["hour"]] = cell["activeUsers"]
    return matrix


def heatmap_chart(cells: Sequence[dict[str, Any]], tz: str) -> go.Figure:
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
        xaxis={"dtick": 1, "title": {"text": f"Hour ({tz})"}},
        yaxis={"autorange": "reversed"},
    )


def total_text(metric: str, value: float, currency: str) -> str:
    kind = _kind(metric)
    if kind == "money":
        return format.money(value, currency)
    return format.percent(value) if kind == "percent" else format.count(int(value))


def change(metric: str, current: Any, previous: Any) -> Decimal:
    """How much the total moved, exactly (a rate in percentage points)."""
    return Decimal(str(current)) - Decimal(str(previous))


def change_text(metric: str, current: float, previous: float, currency: str) -> str:
    """`+$234.50 (+23.45%)`; a rate changes by percentage points: `+0.50 pp`; no change has no sign."""
    moved = change(metric, current, previous)
    kind = _kind(metric)
    if kind == "percent":
        return f"{moved:+.2f} pp" if moved else "0.00 pp"
    text = format.money_delta(moved, currency) if kind == "money" else (f"{int(moved):+,}" if moved else "0")
    if previous:
        ratio = moved / Decimal(str(previous)) * 100
        text += f" ({ratio:+.2f}%)" if moved else " (0.00%)"
    return text
