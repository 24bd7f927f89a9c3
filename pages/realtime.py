"""The realtime page: the spec's live revenue, users, transactions, content and two charts."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import streamlit as st

from dashboard import alert_notices, api, format, tables, widgets
from dashboard.charts import line_chart
from dashboard.login import ensure_logged_in
from dashboard.resources import live_subscription, settings, settled_heap
from dashboard.subscription import LiveView

ensure_logged_in()  # the login of app.py, also for a run that did not pass through it

config = settings()
subscription = live_subscription()
settled_heap()
currency = config.currency
subscription_backoff = config.backoff
symbol = format.money(0, currency).replace("0.00", "").replace("0", "")

st.title("Realtime metrics")


def _money_change(view: LiveView, section: str, key: str) -> dict[str, Any]:
    """`st.metric`'s delta arguments for an amount's change since the previous snapshot."""
    if view.previous is None or view.latest is None:
        return {}
    change = Decimal(str(view.latest[section][key])) - Decimal(str(view.previous[section][key]))
    return {"delta": format.money_delta(change, currency), **format.delta_style(change)}


def _count_change(view: LiveView, section: str, key: str) -> dict[str, Any]:
    if view.previous is None or view.latest is None:
        return {}
    change = view.latest[section][key] - view.previous[section][key]
    return {"delta": change, **format.delta_style(change)}


def _trend(view: LiveView, section: str, key: str) -> list[float]:
    """The card's sparkline: the value over the snapshots the page keeps (oldest first)."""
    return [float(s[section][key]) for s in view.snapshots]


def _snapshots_csv(view: LiveView) -> bytes:
    rows = [
        {
            "timestamp": s["timestamp"],
            "snapshotId": s["snapshotId"],
            "revenueToday": s["revenue"]["today"],
            "activeUsersNow": s["activeUsers"]["current"],
        }
        for s in view.snapshots
    ]
    return tables.csv_bytes(rows, ("timestamp", "snapshotId", "revenueToday", "activeUsersNow"))


def _connection(view: LiveView) -> None:
    state = view.state
    now = time.time()
    age = view.numbers_age(now)  # by the sidecar's clock: how old the numbers are, not when they came
    fresh = view.fresh(now, config.interval)
    live = state.status == "live" and fresh
    stale_reasons = []
    if view.latest is not None and not fresh:
        if view.latest.get("stale"):
            stale_reasons.append("the sidecar says these numbers may no longer be current")
        elif age is not None:
            stale_reasons.append(f"computed {format.age(age)} ago")
    if state.status != "live" and view.latest is not None:
        stale_reasons.append("disconnected")

    left, right = st.columns([3, 2])
    with left:
        if live:
            text = "Live"
        elif state.status == "live":
            text = "Stale" if view.latest is not None else "Connected"
        elif state.status == "connecting":
            text = "Connecting…"
        else:
            text = "Disconnected"
        if age is not None:
            text += f" · updated {format.age(age)} ago"
        st.markdown(widgets.connection_indicator(live, text), unsafe_allow_html=True)
    with right:
        if stale_reasons:
            st.badge("Stale: " + "; ".join(stale_reasons), icon=":material/history:", color="orange")

    if state.status == "retrying":
        st.warning(
            f"Connection to the sidecar lost ({state.error}). Reconnecting in {state.retry_in:g} s "
            f"(attempt {state.attempt} of {len(subscription_backoff)}). The numbers below are the last received."
        )
    elif state.status == "gave_up":
        message = f"Could not reach the sidecar at {subscription.ws_url} after {len(subscription_backoff)} attempts"
        message += f" ({state.error})." if state.error else "."
        if state.retry_in is not None and view.state_since is not None:
            remaining = math.ceil(max(0.0, state.retry_in - (now - view.state_since)))
            message += f" Trying again on its own every {format.age(state.retry_in)} (next in {format.age(remaining)})."
        st.error(message)
        st.button("Reconnect", on_click=subscription.reconnect, type="primary")
    if view.problem:
        st.warning(f"Ignored a malformed message from the sidecar: {view.problem}")


def _pace(place: Any, data: dict[str, Any], section: str, shown: Callable[[Any], str]) -> None:
    """Under a "Today" card: against yesterday and last week at the same local time (`pace`)."""
    pace = data.get("pace", {}).get(section, {})
    today = Decimal(str(data[section]["today"]))
    for label, key in (("vs yesterday at this time", "yesterday"), ("vs last week", "lastWeek")):
        earlier = pace.get(key)
        earlier_value = None if earlier is None else Decimal(str(earlier))
        line = widgets.pace_line(label, today, earlier_value, shown(earlier) if earlier is not None else "")
        place.markdown(line, unsafe_allow_html=True)


def _top_content(top: dict[str, Any]) -> None:
    """What drives the numbers: the most viewed content and categories, now and today (pushed by
    the sidecar every interval to this page's socket, which asked for them)."""
    figures = {
        "views": tables.count_column("Views"),
        "purchases": tables.count_column("Purchases"),
        "revenue": tables.money_column("Revenue", currency),
    }
    for column, (label, window) in zip(
        st.columns(2), (("Last 5 minutes", "lastFiveMinutes"), ("Today", "today")), strict=True
    ):
        items = top[window]["content"]
        column.markdown(f"**Top content · {label}**")
        if not items:
            column.caption("No views or purchases yet.")
            continue
        column.dataframe(
            [{**item, "title": format.content_title(item)} for item in items],
            hide_index=True,
            column_order=("title", *figures),
            column_config={"title": st.column_config.TextColumn("Content"), **figures},
            key=f"top-{window}",
        )
        column.dataframe(
            [{**group, "category": format.category(group["category"])} for group in top[window]["categories"]],
            hide_index=True,
            column_order=("category", *figures),
            column_config={"category": st.column_config.TextColumn("Category"), **figures},
            key=f"categories-{window}",
        )


def _numbers(view: LiveView) -> None:
    data = view.latest
    assert data is not None
    revenue, users, transactions, content = (data[k] for k in ("revenue", "activeUsers", "transactions", "content"))

    st.subheader("Revenue")
    today, total, week, month = st.columns([1.4, 1, 1, 1])
    today.metric(
        "Today",
        format.money(revenue["today"], currency),
        **_money_change(view, "revenue", "today"),
        chart_data=_trend(view, "revenue", "today"),
        chart_type="area",
        border=True,
    )
    total.metric("Total", format.money(revenue["total"], currency), **_money_change(view, "revenue", "total"))
    week.metric("This week", format.money(revenue["thisWeek"], currency), **_money_change(view, "revenue", "thisWeek"))
    month.metric(
        "This month", format.money(revenue["thisMonth"], currency), **_money_change(view, "revenue", "thisMonth")
    )
    _pace(today, data, "revenue", lambda value: format.money(value, currency))

    st.subheader("Active users")
    current, day, peak = st.columns(3)
    current.metric(
        "Now (last 5 min)",
        format.count(users["current"]),
        **_count_change(view, "activeUsers", "current"),
        chart_data=_trend(view, "activeUsers", "current"),
        border=True,
    )
    day.metric("Today", format.count(users["today"]), **_count_change(view, "activeUsers", "today"))
    _pace(day, data, "activeUsers", format.count)
    peak.metric(
        "Peak (24 h)",
        format.count(users["peak24h"]),
        help="The highest “now” the sidecar's snapshots saw in the last 24 hours (its snapshots, not the history).",
    )

    st.subheader("Transactions")
    cards = st.columns(4)
    for column, (label, key, color) in zip(
        cards,
        (
            ("Total", "total", "#94a3b8"),
            ("Pending", "pending", widgets.YELLOW),
            ("Completed", "completed", widgets.GREEN),
            ("Failed", "failed", widgets.RED),
        ),
        strict=True,
    ):
        column.markdown(widgets.status_card(label, format.count(transactions[key]), color), unsafe_allow_html=True)

    st.subheader("Content performance")
    views, purchases, conversion = st.columns(3)
    views.metric(
        "Views (all time)", format.count(content["totalViews"]), **_count_change(view, "content", "totalViews")
    )
    purchases.metric(
        "Purchases (all time)",
        format.count(content["totalPurchases"]),
        **_count_change(view, "content", "totalPurchases"),
    )
    conversion.metric("Conversion rate (all time)", format.percent(content["conversionRate"]))
    if view.top is not None:
        _top_content(view.top)

    revenue_chart, users_chart = st.columns(2)
    revenue_chart.plotly_chart(
        line_chart(
            view.snapshots,
            lambda s: s["revenue"]["today"],
            title="Revenue today · the latest snapshots",
            color=widgets.GREEN,
            tz=config.timezone,
            money_prefix=symbol,
        ),
        key="revenue-chart",
    )
    users_chart.plotly_chart(
        line_chart(
            view.snapshots,
            lambda s: s["activeUsers"]["current"],
            title="Active users now · the latest snapshots",
            color="#3b82f6",
            tz=config.timezone,
        ),
        key="users-chart",
    )
    tables.download(
        "Last snapshots (CSV)", _snapshots_csv(view), f"snapshots-{data['snapshotId']}.csv", key="csv-snapshots"
    )


@st.fragment(run_every=config.interval)
def live_metrics() -> None:
    view = subscription.view()
    _connection(view)
    alert_notices.banner(
        view.firing, view.latest, alert_notices.values_now(view.firing, view.latest, api.analytics()), config.currency
    )
    if view.latest is None:
        if view.state.status != "gave_up":
            st.info(f"Waiting for the first snapshot from {subscription.ws_url}…")
        return
    _numbers(view)


live_metrics()
