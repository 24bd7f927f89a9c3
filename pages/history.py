"""The history page: one metric over whole buckets, against as many buckets just before them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import api, format, links, tables
from dashboard.comparison import (
    BUCKET_LIMIT,
    DEFAULT_MINUTE_WINDOW,
    MINUTE_WINDOWS,
    NotBegun,
    compare_days,
    compare_last_minutes,
    describe,
)
from dashboard.history_charts import (
    METRIC_LABELS,
    change,
    change_text,
    comparison_chart,
    has_data,
    total_text,
    transactions_chart,
)
from dashboard.login import ensure_logged_in
from dashboard.resources import settings
from server.analytics.buckets import TooManyBuckets

ensure_logged_in()  # the login of app.py, also for a run that did not pass through it

config = settings()
client = api.analytics()
# More failed is worse (red up); more pending is neither good nor bad news (grey).
TRANSACTION_COLORS = {"total": "normal", "completed": "normal", "pending": "off", "failed": "inverse"}
WIDENED = {"week": "Weeks", "month": "Months"}  # the intervals that do not fit every range of days
WINDOW_NAMES = {"15m": "15 minutes", "1h": "1 hour", "3h": "3 hours", "6h": "6 hours", "12h": "12 hours"}

st.title("History")

# Every choice is bound to the URL by its label (`?interval=week&metric=Views&dates=...`; a default
# is left out): a link shows this view.
range_column, zone_column, interval_column, metric_column = st.columns([2, 1.4, 1, 1.4])
tz = zone_column.selectbox("Time zone", api.zone_choices(config.timezone), key="tz", bind="query-params")
interval = interval_column.selectbox(
    "Interval", api.INTERVALS, index=api.INTERVALS.index("day"), key="interval", bind="query-params"
)
links.accept_ids("metric", METRIC_LABELS)
metric = metric_column.selectbox(
    "Metric", api.METRICS, format_func=METRIC_LABELS.__getitem__, key="metric", bind="query-params"
)
now = datetime.now(UTC)
try:
    if interval == "minute":
        # A day of minutes is more than the sidecar answers: minutes look back from now.
        window = range_column.selectbox(
            "Last",
            list(MINUTE_WINDOWS),
            index=list(MINUTE_WINDOWS).index(DEFAULT_MINUTE_WINDOW),
            format_func=WINDOW_NAMES.__getitem__,
            key="window",
            bind="query-params",
        )
        comparison = compare_last_minutes(window, tz, now)
    else:
        default = api.Period.last_days(30, config.timezone, now)
        picked = range_column.date_input(
            "Dates", (default.first, default.last), format="YYYY-MM-DD", key="dates", bind="query-params"
        )
        if len(picked) != 2:
            st.info("Pick the last day of the range.")
            st.stop()
        comparison = compare_days(picked[0], picked[1], interval, tz, now)
        chosen = api.Period(picked[0], picked[1], tz)
        picked_bounds = (datetime.fromisoformat(chosen.start), datetime.fromisoformat(chosen.end))
except TooManyBuckets:
    st.warning(
        f"These dates hold more than {BUCKET_LIMIT:,} {interval} buckets, more than the sidecar answers: "
        "choose fewer days or a larger interval."
    )
    st.stop()
except NotBegun:
    st.info("This range has not begun yet.")
    st.stop()

so_far, previous, like = comparison.so_far, comparison.previous, comparison.previous_so_far
current_query = api.timeseries_params(metric, *so_far.bounds(tz), interval, tz)
previous_query = api.timeseries_params(metric, *previous.bounds(tz), interval, tz)
try:
    current = client.timeseries(metric, *so_far.bounds(tz), interval, tz)
    before = client.timeseries(metric, *previous.bounds(tz), interval, tz)
    if not has_data(metric, current["points"]) and not has_data(metric, before["points"]):
        st.info("No data in this range.")
        st.stop()
    # While the period is under way, the totals set what has happened so far against the previous
    # period's first buckets up to the same point (the sidecar totals that range itself: distinct
    # users and rates do not add up).
    before_total, to_same_point = None, None
    if comparison.partial:
        until = comparison.cut.astimezone(ZoneInfo(tz)).isoformat() if comparison.cut is not None else None
        like_answer = client.timeseries(metric, *like.bounds(tz), interval, tz, until)
        before_total = like_answer["total"]
        if comparison.cut is not None and like_answer["points"] and metric != "transactions":
            # The under-way bucket's match in the previous period, cut at the same point.
            to_same_point = float(like_answer["points"][-1]["value"])
    current_csv = client.csv(api.TIMESERIES, current_query)
    previous_csv = client.csv(api.TIMESERIES, previous_query)
except api.AnalyticsError as exc:
    st.error(str(exc))
    st.stop()
compared = before["total"] if before_total is None else before_total

count = comparison.current.count
if interval in WIDENED and (comparison.current.start, comparison.current.end) != picked_bounds:
    # Whole buckets: the chosen dates are widened, and the totals are the widened range's.
    st.caption(
        f"{WIDENED[interval]} are compared whole: the dates chosen are widened to "
        f"{describe(comparison.current, interval, tz)}, and the totals are that range's."
    )
this_period = f"This period: {describe(comparison.current, interval, tz)} · {comparison.units(count)}"
if comparison.in_progress:
    this_period += f", {comparison.begun:,} so far"
if comparison.under_way:
    # Its last bucket is set against a whole one: say so rather than let a dip at the end alarm.
    this_period += ", the last still under way"
st.caption(f"{this_period} · {tz}")
st.caption(f"Previous period: {describe(previous, interval, tz)} · the {comparison.units(count)} just before")
if comparison.partial:
    to_point = ""
    if comparison.cut is not None:
        cut_local = comparison.cut.astimezone(ZoneInfo(tz))
        to_point = f", the last up to the same point ({cut_local:%b} {cut_local.day}, {cut_local:%H:%M %Z})"
    st.caption(
        f"This period is under way: the totals compare its {comparison.units(comparison.begun)} so far "
        f"({describe(so_far, interval, tz)}, up to now) with the first {comparison.units(comparison.begun)} "
        f"of the previous period ({describe(like, interval, tz)}{to_point})."
    )

label = METRIC_LABELS[metric]
this_label, before_label = "this period", "previous period"
if comparison.partial:
    this_label, before_label = "this period so far", "previous period, to the same point"
if metric == "transactions":
    columns = st.columns(4)
    for column, key in zip(columns, ("total", "pending", "completed", "failed"), strict=True):
        column.metric(
            key.capitalize(),
            total_text(metric, current["total"][key], config.currency),
            change_text(metric, current["total"][key], compared[key], config.currency),
            **format.delta_style(change(metric, current["total"][key], compared[key]), TRANSACTION_COLORS[key]),
            border=True,
        )
    figure = transactions_chart(
        current["points"], before["points"], xs=comparison.local_starts(), tz=tz, interval=interval
    )
else:
    this_column, before_column = st.columns(2)
    this_column.metric(
        f"{label}, {this_label}",
        total_text(metric, current["total"], config.currency),
        change_text(metric, current["total"], compared, config.currency),
        **format.delta_style(change(metric, current["total"], compared)),
        border=True,
    )
    before_column.metric(f"{label}, {before_label}", total_text(metric, compared, config.currency))
    figure = comparison_chart(
        current["points"],
        before["points"],
        xs=comparison.local_starts(),
        metric=metric,
        tz=tz,
        currency=config.currency,
        interval=interval,
        to_same_point=to_same_point,
    )

st.plotly_chart(figure, key="history-chart")
this_download, previous_download = st.columns(2)
with this_download:
    tables.download(
        "This period (CSV)", current_csv, f"{metric}-{interval}-{so_far.start:%Y%m%dT%H%M}.csv", key="csv-current"
    )
with previous_download:
    tables.download(
        "Previous period (CSV)",
        previous_csv,
        f"{metric}-{interval}-{previous.start:%Y%m%dT%H%M}.csv",
        key="csv-previous",
    )
