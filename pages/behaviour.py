"""The behaviour page: what content sells, how far viewers get, who comes back and when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard import api, format
from dashboard.history_charts import funnel_chart, heatmap_chart, new_vs_returning_chart
from dashboard.login import ensure_logged_in
from dashboard.resources import settings

ensure_logged_in()  # the login of app.py, also for a run that did not pass through it

config = settings()
client = api.analytics()

st.title("User behaviour")

dates_column, zone_column = st.columns([2, 1])
default = api.Period.last_days(30, config.timezone, datetime.now(UTC))
picked = dates_column.date_input("Dates", (default.first, default.last), format="YYYY-MM-DD")
tz = zone_column.selectbox("Time zone", api.zone_choices(config.timezone))
if len(picked) != 2:
    st.info("Pick the last day of the range.")
    st.stop()
period = api.Period(picked[0], picked[1], tz)
st.caption(f"{period.label()} ({tz})")

st.subheader("Top content")
by_column, limit_column = st.columns(2)
by = by_column.selectbox("Ranked by", api.TOP_BY, format_func=str.capitalize)
limit = limit_column.slider("How many", min_value=5, max_value=50, value=10, step=5)
items: list[dict[str, Any]] = []
try:
    items = client.top_content(by, period.start, period.end, limit)["items"]
except api.AnalyticsError as exc:
    st.error(str(exc))
else:
    if items:
        st.dataframe(
            items,
            hide_index=True,
            column_order=("contentId", "views", "purchases", "revenue", "conversionRate"),
            column_config={
                "contentId": st.column_config.TextColumn("Content"),
                "views": st.column_config.NumberColumn("Views"),
                "purchases": st.column_config.NumberColumn("Purchases"),
                "revenue": st.column_config.NumberColumn(f"Revenue ({config.currency})", format="%.2f"),
                "conversionRate": st.column_config.NumberColumn("Conversion", format="%.2f%%"),
            },
        )
    else:
        st.info("No data in this range.")

st.subheader("Funnel")
content_id = st.selectbox(
    "Content",
    [None, *(item["contentId"] for item in items)],
    format_func=lambda choice: "All content" if choice is None else choice,
)
try:
    funnel = client.funnel(period.start, period.end, content_id)
except api.AnalyticsError as exc:
    st.error(str(exc))
else:
    if funnel["steps"] and funnel["steps"][0]["count"]:
        st.metric("Views that ended in a purchase", format.percent(funnel["overallRate"]))
        st.plotly_chart(funnel_chart(funnel["steps"]), key="funnel-chart")
    else:
        st.info("No data in this range.")

st.subheader("New and returning users")
try:
    users = client.users(period.start, period.end, tz)
except api.AnalyticsError as exc:
    st.error(str(exc))
else:
    if any(day["active"] for day in users["days"]):
        st.plotly_chart(new_vs_returning_chart(users["days"], tz), key="users-chart")
        st.plotly_chart(heatmap_chart(users["heatmap"], tz), key="heatmap-chart")
    else:
        st.info("No data in this range.")
