"""The history page: one metric over a range of days, against the same number of days before it."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import api
from dashboard.history_charts import (
    METRIC_LABELS,
    change_text,
    comparison_chart,
    has_data,
    total_text,
    transactions_chart,
)
from dashboard.login import ensure_logged_in
from dashboard.resources import settings

ensure_logged_in()  # the login of app.py, also for a run that did not pass through it

config = settings()
client = api.analytics()

st.title("History")

dates_column, zone_column, interval_column, metric_column = st.columns([2, 1.4, 1, 1.4])
default = api.Period.last_days(30, config.timezone, datetime.now(UTC))
picked = dates_column.date_input("Dates", (default.first, default.last), format="YYYY-MM-DD")
tz = zone_column.selectbox("Time zone", api.zone_choices(config.timezone))
interval = interval_column.selectbox("Interval", api.INTERVALS, index=api.INTERVALS.index("day"))
metric = metric_column.selectbox("Metric", api.METRICS, format_func=METRIC_LABELS.__getitem__)

if len(picked) != 2:
    st.info("Pick the last day of the range.")
    st.stop()
period = api.Period(picked[0], picked[1], tz)
previous = period.previous()
query = api.timeseries_params(metric, period.start, period.end, interval, tz)

try:
    current = client.timeseries(metric, period.start, period.end, interval, tz)
    if not has_data(metric, current["points"]):
        st.info("No data in this range.")
        st.stop()
    before = client.timeseries(metric, previous.start, previous.end, interval, tz)
    csv = client.csv(api.TIMESERIES, query)
except api.AnalyticsError as exc:
    st.error(str(exc))
    st.stop()

st.caption(f"{period.label()} ({tz}), compared with the {period.days} days before: {previous.label()}")
label = METRIC_LABELS[metric]
if metric == "transactions":
    columns = st.columns(4)
    for column, key in zip(columns, ("total", "pending", "completed", "failed"), strict=True):
        column.metric(
            key.capitalize(),
            total_text(metric, current["total"][key], config.currency),
            change_text(metric, current["total"][key], before["total"][key], config.currency),
            delta_color="inverse" if key == "failed" else "normal",
            border=True,
        )
    figure = transactions_chart(current["points"], before["points"], tz=tz)
else:
    this_column, before_column = st.columns(2)
    this_column.metric(
        f"{label}, this period",
        total_text(metric, current["total"], config.currency),
        change_text(metric, current["total"], before["total"], config.currency),
        border=True,
    )
    before_column.metric(f"{label}, previous period", total_text(metric, before["total"], config.currency))
    figure = comparison_chart(current["points"], before["points"], metric=metric, tz=tz, currency=config.currency)

st.plotly_chart(figure, key="history-chart")
st.download_button(
    "Download CSV",
    csv,
    file_name=f"{metric}-{interval}-{period.first}-{period.last}.csv",
    mime="text/csv",
    on_click="ignore",
    icon=":material/download:",
)
