"""The behaviour page: what content sells, how far viewers get, who comes back and when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard import api, format, links, tables
from dashboard.history_charts import funnel_chart, heatmap_chart, new_vs_returning_chart
from dashboard.login import ensure_logged_in
from dashboard.resources import settings

ensure_logged_in()  # the login of app.py, also for a run that did not pass through it

config = settings()
client = api.analytics()
DEFAULT_MIN_VIEWS = 100  # below this a conversion rate is mostly chance: 3 sales of 7 views lead no ranking
PICKER_SIZE = 100  # the funnel's content list: the most viewed in the range (the sidecar's largest page)

st.title("User behaviour")

# Every choice is bound to the URL by its label (a default is left out): a link shows this view.
dates_column, zone_column = st.columns([2, 1])
default = api.Period.last_days(30, config.timezone, datetime.now(UTC))
picked = dates_column.date_input(
    "Dates", (default.first, default.last), format="YYYY-MM-DD", key="dates", bind="query-params"
)
tz = zone_column.selectbox("Time zone", api.zone_choices(config.timezone), key="tz", bind="query-params")
if len(picked) != 2:
    st.info("Pick the last day of the range.")
    st.stop()
period = api.Period(picked[0], picked[1], tz)
st.caption(f"{period.label()} ({tz})")

st.subheader("Top content")
by_column, limit_column, min_views_column = st.columns(3)
links.accept_ids("by", {key: key.capitalize() for key in api.TOP_BY})
by = by_column.selectbox("Ranked by", api.TOP_BY, format_func=str.capitalize, key="by", bind="query-params")
limit = limit_column.slider("How many", min_value=5, max_value=50, value=10, step=5, key="limit", bind="query-params")
min_views = 0
if by == "conversion":
    min_views = int(
        min_views_column.number_input(
            "Minimum views",
            min_value=0,
            max_value=1_000_000,
            value=DEFAULT_MIN_VIEWS,
            step=10,
            key="minViews",
            bind="query-params",
            help="Content with fewer views in the range is left out of the ranking.",
        )
    )
FIGURE_COLUMNS = {
    "views": tables.count_column("Views"),
    "purchases": tables.count_column("Purchases"),
    "revenue": tables.money_column("Revenue", config.currency),
    "conversionRate": tables.rate_column("Conversion"),
}
items: list[dict[str, Any]] = []
try:
    items = client.top_content(by, period.start, period.end, limit, min_views)["items"]
except api.AnalyticsError as exc:
    st.error(str(exc))
else:
    if items:
        # Content by its title (the sidecar falls back to the id), the id beside it.
        shown = [
            {**item, "title": format.content_title(item), "category": item.get("category") or ""} for item in items
        ]
        st.dataframe(
            shown,
            hide_index=True,
            column_order=("title", "category", *FIGURE_COLUMNS, "contentId"),
            column_config={
                "title": st.column_config.TextColumn("Content"),
                "category": st.column_config.TextColumn("Category"),
                **FIGURE_COLUMNS,
                "contentId": st.column_config.TextColumn("Id"),
            },
        )
        tables.download(
            "Top content (CSV)",
            tables.csv_bytes(shown, ("contentId", "title", "category", *FIGURE_COLUMNS)),
            f"top-content-{by}-{period.first}-{period.last}.csv",
            key="csv-top",
        )
    elif min_views:
        st.info(f"No content has {min_views:,} views or more in this range.")
    else:
        st.info("No data in this range.")

st.subheader("By category")
try:
    groups = client.categories(by, period.start, period.end)["items"]
except api.AnalyticsError as exc:
    st.error(str(exc))
else:
    if groups:
        named = [{**group, "category": format.category(group["category"])} for group in groups]
        st.dataframe(
            named,
            hide_index=True,
            column_order=("category", "contents", *FIGURE_COLUMNS),
            column_config={
                "category": st.column_config.TextColumn("Category"),
                "contents": tables.count_column("Content items"),
                **FIGURE_COLUMNS,
            },
        )
        tables.download(
            "Categories (CSV)",
            tables.csv_bytes(groups, ("category", "contents", *FIGURE_COLUMNS)),
            f"content-categories-{by}-{period.first}-{period.last}.csv",
            key="csv-categories",
        )
    else:
        st.info("No data in this range.")

st.subheader("Funnel")
# Any content, not only the rows above: the most viewed of the range to pick from, or type an id.
try:
    viewed = client.top_content("views", period.start, period.end, PICKER_SIZE)["items"]
except api.AnalyticsError:
    viewed = items  # the funnel below says what failed
titles = {item["contentId"]: format.content_title(item) for item in [*viewed, *items]}
content_id = st.selectbox(
    "Content",
    [None, *dict.fromkeys(item["contentId"] for item in [*items, *viewed])],
    format_func=lambda choice: (
        "All content" if choice is None else format.content_choice(choice, titles.get(choice, choice))
    ),
    accept_new_options=True,
    key="content",
    bind="query-params",
    help=f"The {PICKER_SIZE} most viewed in the range, by title; type any other content id.",
)
try:
    funnel = client.funnel(period.start, period.end, content_id)
except api.AnalyticsError as exc:
    st.error(str(exc))
else:
    if content_id is not None:
        st.caption(format.content_choice(content_id, str(funnel.get("title") or content_id)))
    if funnel["steps"] and funnel["steps"][0]["count"]:
        st.metric(
            "Purchases per view",
            format.percent(funnel["overallRate"]),
            help="Completed purchases over views in the range: a ratio of counts, not views traced to a purchase.",
        )
        st.plotly_chart(funnel_chart(funnel["steps"]), key="funnel-chart")
        tables.download(
            "Funnel (CSV)",
            tables.csv_bytes(funnel["steps"], ("step", "count", "rate")),
            f"funnel-{content_id or 'all'}-{period.first}-{period.last}.csv",
            key="csv-funnel",
        )
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
        tables.download(
            "New and returning users (CSV)",
            tables.csv_bytes(users["days"], list(users["days"][0])),
            f"users-{period.first}-{period.last}.csv",
            key="csv-users",
        )
        st.plotly_chart(heatmap_chart(users["heatmap"], tz), key="heatmap-chart")
        tables.download(
            "Active users by weekday and hour (CSV)",
            tables.csv_bytes(users["heatmap"], ("weekday", "hour", "activeUsers")),
            f"users-heatmap-{period.first}-{period.last}.csv",
            key="csv-heatmap",
        )
    else:
        st.info("No data in this range.")
