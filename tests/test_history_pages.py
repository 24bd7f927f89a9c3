"""The history and behaviour pages, run by AppTest with the analytics client replaced by a fake.

The fake is an `AnalyticsClient` whose `get_json` / `csv` answer from the test instead of HTTP, so
every request the page makes is recorded with exactly the query parameters it would send.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

import dashboard.api
import dashboard.resources
from dashboard.api import CATEGORIES, FUNNEL, TIMESERIES, TOP_CONTENT, USERS, AnalyticsError
from dashboard.settings import DashboardSettings

PAGES = Path(__file__).parents[1] / "pages"
Answer = Callable[[str, dict[str, str]], Any]


@dataclass(frozen=True)
class FakeAnalytics(dashboard.api.AnalyticsClient):
    api_url: str = "http://sidecar.test"
    answer: Answer = lambda path, params: {}
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    errors: list[AnalyticsError] = field(default_factory=list)  # raised by every request while set

    def get_json(self, path: str, params: Any) -> Any:
        self.requests.append(("json", path, dict(params)))
        if self.errors:
            raise self.errors[0]
        return self.answer(path, dict(params))

    def csv(self, path: str, params: Any) -> bytes:
        self.requests.append(("csv", path, dict(params)))
        return b"start,end,value\n"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnalytics]:
    client = FakeAnalytics()
    monkeypatch.setattr(dashboard.api, "analytics", lambda: client)
    config = DashboardSettings(timezone="Europe/Berlin", currency="USD")
    monkeypatch.setattr(dashboard.resources, "settings", lambda: config)
    yield client


def run(
    fake: FakeAnalytics, page: str, answer: Answer, *, query: dict[str, Any] | None = None, **widgets: Any
) -> AppTest:
    """Open the page (at `?query`), set the widgets by label, run again; `fake.requests` holds that
    last run's."""
    object.__setattr__(fake, "answer", answer)
    app = AppTest.from_file(str(PAGES / page), default_timeout=30)
    app.query_params.update(query or {})
    app.run()
    assert not app.exception, app.exception
    if widgets:
        for name, value in widgets.items():
            label = name.replace("_", " ").capitalize()
            next(w for w in [*app.date_input, *app.selectbox, *app.slider] if w.label == label).set_value(value)
        fake.requests.clear()
        app.run()
        assert not app.exception, app.exception
    return app


def day_points(first_start: str, values: list[Any], key: str = "value") -> list[dict[str, Any]]:
    """Daily buckets from a UTC instant; `values` are numbers or, for transactions, dicts."""
    start = datetime.fromisoformat(first_start.replace("Z", "+00:00"))
    points = []
    for i, value in enumerate(values):
        edges = [(start + timedelta(days=i + k)).strftime("%Y-%m-%dT%H:%M:%SZ") for k in (0, 1)]
        points.append({"start": edges[0], "end": edges[1], **(value if isinstance(value, dict) else {key: value})})
    return points


# Nov 1-3, 2026 in Auckland (NZDT, +13:00) against Oct 29-31.
NOV = (date(2026, 11, 1), date(2026, 11, 3))
CURRENT_FROM, PREVIOUS_FROM = "2026-11-01T00:00:00+13:00", "2026-10-29T00:00:00+13:00"


def revenue_answer(path: str, params: dict[str, str]) -> dict[str, Any]:
    if params["from"] == CURRENT_FROM:
        return {"points": day_points("2026-10-31T11:00:00Z", [400.5, 0, 834.0]), "total": 1234.5}
    if params["from"] == PREVIOUS_FROM:
        return {"points": day_points("2026-10-28T11:00:00Z", [300.0, 200.0, 500.0]), "total": 1000.0}
    return {"points": day_points("2026-10-01T00:00:00Z", [1.0]), "total": 1.0}


def metrics(app: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in app.metric}


def charts(app: AppTest) -> dict[str, dict[str, Any]]:
    return {c.key: json.loads(c.proto.spec) for c in app.get("plotly_chart")}


def test_history_asks_for_the_last_30_days_in_the_deployment_zone_by_default(fake: FakeAnalytics) -> None:
    run(fake, "history.py", revenue_answer)
    berlin = ZoneInfo("Europe/Berlin")
    today = datetime.now(UTC).astimezone(berlin).date()
    midnight = lambda day: datetime.combine(day, time(), berlin).isoformat()  # noqa: E731
    assert fake.requests[0] == (
        "json",
        TIMESERIES,
        {
            "metric": "revenue",
            "from": midnight(today - timedelta(days=29)),
            "to": midnight(today + timedelta(days=1)),
            "interval": "day",
            "tz": "Europe/Berlin",
        },
    )


def test_history_sends_local_midnights_of_the_chosen_zone_across_a_dst_change(fake: FakeAnalytics) -> None:
    # New Zealand moves from +12:00 to +13:00 on Sunday Sep 27, 2026.
    run(fake, "history.py", revenue_answer, dates=(date(2026, 9, 20), date(2026, 10, 10)), time_zone="Pacific/Auckland")
    query = {"metric": "revenue", "interval": "day", "tz": "Pacific/Auckland"}
    current = {**query, "from": "2026-09-20T00:00:00+12:00", "to": "2026-10-11T00:00:00+13:00"}
    previous = {**query, "from": "2026-08-30T00:00:00+12:00", "to": "2026-09-20T00:00:00+12:00"}
    assert fake.requests == [
        ("json", TIMESERIES, current),
        ("json", TIMESERIES, previous),
        ("csv", TIMESERIES, current),
        ("csv", TIMESERIES, previous),
    ]


def test_history_charts_the_points_with_the_previous_period_over_them(fake: FakeAnalytics) -> None:
    app = run(fake, "history.py", revenue_answer, dates=NOV, time_zone="Pacific/Auckland")
    chart = charts(app)["history-chart"]
    previous, current = chart["data"]
    assert current["name"] == "This period" and current["y"] == [400.5, 0, 834.0]
    assert current["x"] == ["2026-11-01T00:00:00", "2026-11-02T00:00:00", "2026-11-03T00:00:00"]  # local days
    assert previous["name"] == "Previous period" and previous["y"] == [300.0, 200.0, 500.0]
    assert previous["x"] == current["x"]  # aligned bucket by bucket
    assert previous["line"] == {"color": "#94a3b8", "dash": "dash", "width": 2}
    assert chart["layout"]["xaxis"]["title"]["text"] == "Time (Pacific/Auckland)"
    assert chart["layout"]["yaxis"]["tickprefix"] == "$"


def test_history_shows_the_totals_and_their_change_and_offers_the_csv(fake: FakeAnalytics) -> None:
    app = run(fake, "history.py", revenue_answer, dates=NOV, time_zone="Pacific/Auckland")
    assert metrics(app) == {
        "Revenue, this period": ("$1,234.50", "+$234.50 (+23.45%)"),
        "Revenue, previous period": ("$1,000.00", ""),
    }
    assert [b.label for b in app.download_button] == ["This period (CSV)", "Previous period (CSV)"]
    assert fake.requests[-2:] == [("csv", *fake.requests[0][1:]), ("csv", *fake.requests[1][1:])]  # as charted
    assert [c.value for c in app.caption] == [
        "This period: Nov 1 – Nov 3, 2026 · 3 days · Pacific/Auckland",
        "Previous period: Oct 29 – Oct 31, 2026 · the 3 days just before",
    ]


def test_history_shows_transactions_stacked_by_status_in_their_colours(fake: FakeAnalytics) -> None:
    def answer(path: str, params: dict[str, str]) -> dict[str, Any]:
        if params["metric"] != "transactions":
            return revenue_answer(path, params)
        row = {"pending": 2, "completed": 10, "failed": 1, "total": 13}
        total = {"pending": 4, "completed": 1200, "failed": 3, "total": 1207}
        if params["from"] != CURRENT_FROM:
            row, total = {**row, "total": 9}, {"pending": 4, "completed": 1000, "failed": 6, "total": 1010}
        return {"points": day_points("2026-10-31T11:00:00Z", [row, row]), "total": total}

    app = run(fake, "history.py", answer, dates=NOV, time_zone="Pacific/Auckland", metric="transactions")
    traces = {t["name"]: t for t in charts(app)["history-chart"]["data"]}
    assert [(t["marker"]["color"], t["y"]) for t in map(traces.get, ("Pending", "Completed", "Failed"))] == [
        ("#eab308", [2, 2]),
        ("#22c55e", [10, 10]),
        ("#ef4444", [1, 1]),
    ]
    assert traces["Previous period"]["y"] == [9, 9]
    assert metrics(app) == {
        "Total": ("1,207", "+197 (+19.50%)"),
        "Pending": ("4", "0 (0.00%)"),
        "Completed": ("1,200", "+200 (+20.00%)"),
        "Failed": ("3", "-3 (-50.00%)"),
    }
    colours = {m.label: (MetricProto.MetricColor.Name(m.proto.color), m.proto.direction) for m in app.metric}
    assert colours == {
        "Total": ("GREEN", MetricProto.MetricDirection.UP),
        "Pending": ("GRAY", MetricProto.MetricDirection.NONE),  # no change: no green arrow
        "Completed": ("GREEN", MetricProto.MetricDirection.UP),
        "Failed": ("GREEN", MetricProto.MetricDirection.DOWN),  # fewer failures is good
    }
    chart = charts(app)["history-chart"]
    assert chart["layout"]["yaxis"]["tickformat"] == ",d"  # whole transactions on the axis


def test_history_shows_a_rate_and_its_change_in_percentage_points(fake: FakeAnalytics) -> None:
    def answer(path: str, params: dict[str, str]) -> dict[str, Any]:
        total = 4.17 if params["from"] == CURRENT_FROM else 3.67
        return {"points": day_points("2026-10-31T11:00:00Z", [total]), "total": total}

    app = run(fake, "history.py", answer, dates=NOV, time_zone="Pacific/Auckland", metric="conversion")
    assert metrics(app) == {
        "Conversion rate, this period": ("4.17%", "+0.50 pp"),
        "Conversion rate, previous period": ("3.67%", ""),
    }


def test_history_waits_for_the_second_date_of_the_range(fake: FakeAnalytics) -> None:
    app = run(fake, "history.py", revenue_answer, dates=(date(2026, 11, 1),))
    assert [i.value for i in app.info] == ["Pick the last day of the range."]
    assert fake.requests == []


def test_history_says_so_when_the_range_holds_no_data(fake: FakeAnalytics) -> None:
    empty = {"points": day_points("2026-10-31T11:00:00Z", [0, 0, 0]), "total": 0}
    app = run(fake, "history.py", lambda path, params: empty, dates=NOV, time_zone="Pacific/Auckland")
    assert [i.value for i in app.info] == ["No data in this range."]
    assert not app.get("plotly_chart") and not app.download_button and not app.metric


def test_history_shows_the_sidecars_refusal_instead_of_failing(fake: FakeAnalytics) -> None:
    fake.errors.append(AnalyticsError("the database cannot be reached; retry later", status=503))
    app = run(fake, "history.py", revenue_answer, dates=NOV)
    assert [e.value for e in app.error] == ["the database cannot be reached; retry later"]
    assert not app.get("plotly_chart") and not app.download_button


# --- whole buckets, never overlapping ---------------------------------------------------------------
# Berlin, 2024 (a year every clock this runs on has passed): summer time ends on Sun Oct 27.


def bucket_points(starts: list[str], values: list[float]) -> list[dict[str, Any]]:
    """Points with the given UTC starts, each ending where the next begins (the last a week later)."""
    ends = [*starts[1:], "2099-01-01T00:00:00Z"][: len(starts)]
    return [{"start": a, "end": b, "value": v} for a, b, v in zip(starts, ends, values, strict=True)]


WEEKS = {  # `from` of each period -> (UTC bucket starts, values, total)
    "2024-10-21T00:00:00+02:00": (
        ["2024-10-20T22:00:00Z", "2024-10-27T22:00:00Z", "2024-11-03T23:00:00Z"],
        [700.0, 710.0, 720.0],
        2130.0,
    ),
    "2024-09-30T00:00:00+02:00": (
        ["2024-09-29T22:00:00Z", "2024-10-06T22:00:00Z", "2024-10-13T22:00:00Z"],
        [600.0, 610.0, 620.0],
        1830.0,
    ),
}


def weeks_answer(path: str, params: dict[str, str]) -> dict[str, Any]:
    starts, values, total = WEEKS.get(params["from"], ([], [], 0))
    return {"points": bucket_points(starts, values), "total": total}


def test_history_by_week_compares_whole_weeks_with_the_weeks_just_before(fake: FakeAnalytics) -> None:
    # Wed Oct 23 - Wed Nov 6 widen to the weeks of Oct 21, Oct 28 and Nov 4; the three before end on Oct 20.
    app = run(fake, "history.py", weeks_answer, dates=(date(2024, 10, 23), date(2024, 11, 6)), interval="week")
    query = {"metric": "revenue", "interval": "week", "tz": "Europe/Berlin"}
    current = {**query, "from": "2024-10-21T00:00:00+02:00", "to": "2024-11-11T00:00:00+01:00"}
    previous = {**query, "from": "2024-09-30T00:00:00+02:00", "to": "2024-10-21T00:00:00+02:00"}
    assert fake.requests == [
        ("json", TIMESERIES, current),
        ("json", TIMESERIES, previous),
        ("csv", TIMESERIES, current),
        ("csv", TIMESERIES, previous),
    ]
    assert [c.value for c in app.caption] == [
        "Weeks are compared whole: the dates chosen are widened to Oct 21 – Nov 10, 2024, "
        "and the totals are that range's.",
        "This period: Oct 21 – Nov 10, 2024 · 3 weeks · Europe/Berlin",
        "Previous period: Sep 30 – Oct 20, 2024 · the 3 weeks just before",
    ]
    assert metrics(app) == {
        "Revenue, this period": ("$2,130.00", "+$300.00 (+16.39%)"),
        "Revenue, previous period": ("$1,830.00", ""),
    }
    chart = charts(app)["history-chart"]
    previous_bars, current_bars = chart["data"]
    assert (current_bars["type"], previous_bars["type"], chart["layout"]["barmode"]) == ("bar", "bar", "group")
    assert current_bars["x"] == ["2024-10-21T00:00:00", "2024-10-28T00:00:00", "2024-11-04T00:00:00"]
    assert previous_bars["x"] == current_bars["x"] and previous_bars["y"] == [600.0, 610.0, 620.0]
    assert previous_bars["customdata"] == ["2024-09-30 00:00:00", "2024-10-07 00:00:00", "2024-10-14 00:00:00"]


def test_history_by_month_never_counts_a_month_in_both_periods(fake: FakeAnalytics) -> None:
    months = {
        "2024-05-01T00:00:00+02:00": (["2024-04-30T22:00:00Z", "2024-05-31T22:00:00Z"], [3100.0, 3000.0], 6100.0),
        "2024-03-01T00:00:00+01:00": (["2024-02-29T23:00:00Z", "2024-03-31T22:00:00Z"], [2900.0, 3050.0], 5950.0),
    }

    def answer(path: str, params: dict[str, str]) -> dict[str, Any]:
        starts, values, total = months.get(params["from"], ([], [], 0))
        return {"points": bucket_points(starts, values), "total": total}

    # May 6 - Jun 4 by month is May and June, against March and April (not April and May).
    app = run(fake, "history.py", answer, dates=(date(2024, 5, 6), date(2024, 6, 4)), interval="month")
    asked = [(p["from"], p["to"]) for kind, _, p in fake.requests if kind == "json"]
    assert asked == [
        ("2024-05-01T00:00:00+02:00", "2024-07-01T00:00:00+02:00"),
        ("2024-03-01T00:00:00+01:00", "2024-05-01T00:00:00+02:00"),
    ]
    assert [c.value for c in app.caption] == [
        "Months are compared whole: the dates chosen are widened to May 1 – Jun 30, 2024, "
        "and the totals are that range's.",
        "This period: May 1 – Jun 30, 2024 · 2 months · Europe/Berlin",
        "Previous period: Mar 1 – Apr 30, 2024 · the 2 months just before",
    ]
    assert metrics(app)["Revenue, this period"] == ("$6,100.00", "+$150.00 (+2.52%)")
    chart = charts(app)["history-chart"]
    assert chart["data"][1]["x"] == ["2024-05-01T00:00:00", "2024-06-01T00:00:00"]
    assert chart["layout"]["xaxis"]["tickformat"] == "%b %Y"


def test_history_draws_no_bucket_that_has_not_begun_and_compares_like_with_like(fake: FakeAnalytics) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    today = datetime.now(UTC).astimezone(berlin).date()
    day = timedelta(days=1)
    midnight = lambda d: datetime.combine(d, time(), berlin).isoformat()  # noqa: E731

    def answer(path: str, params: dict[str, str]) -> dict[str, Any]:
        days = (datetime.fromisoformat(params["to"]) - datetime.fromisoformat(params["from"])).days
        return {"points": day_points("2024-01-01T00:00:00Z", [10.0] * days), "total": 10.0 * days}

    # Yesterday, today and tomorrow: tomorrow is not asked for, not drawn, and not in the totals;
    # today, under way, is set against the previous period's second day up to the same time.
    before = datetime.now(UTC).astimezone(berlin)
    app = run(fake, "history.py", answer, dates=(today - day, today + day))
    after = datetime.now(UTC).astimezone(berlin)
    asked = [(p["from"], p["to"]) for kind, _, p in fake.requests if kind == "json"]
    assert asked == [
        (midnight(today - day), midnight(today + day)),  # the two days so far
        (midnight(today - 4 * day), midnight(today - day)),  # the whole previous period, for the chart
        (midnight(today - 4 * day), midnight(today - 2 * day)),  # its first two days, for the totals
    ]
    [until] = [p["until"] for kind, _, p in fake.requests if kind == "json" and "until" in p]
    cut = datetime.fromisoformat(until).astimezone(berlin)
    assert cut.date() == today - 3 * day  # the previous period's second day, at the time the page ran
    assert before.time().replace(microsecond=0) <= cut.time() <= after.time() or before.date() != after.date()
    assert metrics(app) == {
        "Revenue, this period so far": ("$20.00", "$0.00 (0.00%)"),
        "Revenue, previous period, to the same point": ("$20.00", ""),
    }
    assert app.caption[0].value.endswith("· 3 days, 2 so far, the last still under way · Europe/Berlin")
    assert app.caption[2].value.startswith("This period is under way: the totals compare its 2 days so far")
    assert f"the last up to the same point ({cut:%b} {cut.day}, {cut:%H:%M %Z})" in app.caption[2].value
    previous, current, marker = charts(app)["history-chart"]["data"]
    assert len(current["y"]) == 2 and len(previous["y"]) == 3  # the previous period in full, behind
    # Today's match, Nov 3 up to this time, marked on today: what today's point reads against.
    assert marker["name"] == "Previous period, to the same point"
    assert (marker["x"], marker["y"]) == ([current["x"][-1]], [10.0])


def test_history_by_minute_has_a_range_that_fits_by_default(fake: FakeAnalytics) -> None:
    def answer(path: str, params: dict[str, str]) -> dict[str, Any]:
        return {"points": day_points("2024-01-01T00:00:00Z", [1.0]), "total": 1.0}

    app = run(fake, "history.py", answer, interval="minute")
    assert not app.error and not app.warning
    assert [s.value for s in app.selectbox if s.label == "Last"] == ["1h"]
    current, previous, like = (p for kind, _, p in fake.requests if kind == "json")
    # The minute under way against the previous hour's last minute, as far into it as this one is.
    assert like["from"] == previous["from"] and datetime.fromisoformat(like["until"]) < datetime.fromisoformat(
        previous["to"]
    )
    span = datetime.fromisoformat(current["to"]) - datetime.fromisoformat(current["from"])
    assert span == timedelta(hours=1) and current["interval"] == "minute"
    assert previous["to"] == current["from"]
    assert datetime.fromisoformat(previous["to"]) - datetime.fromisoformat(previous["from"]) == span


def test_history_refuses_a_range_past_the_sidecars_limit_before_asking(fake: FakeAnalytics) -> None:
    app = run(fake, "history.py", revenue_answer, dates=(date(2024, 1, 1), date(2024, 2, 11)), interval="hour")
    assert [w.value for w in app.warning] == [
        "These dates hold more than 1,000 hour buckets, more than the sidecar answers: "
        "choose fewer days or a larger interval."
    ]
    assert fake.requests == []


def test_a_link_reproduces_the_history_view(fake: FakeAnalytics) -> None:
    # Choices are in the URL as they read (the metric's label), dates as ISO dates.
    query = {"interval": "week", "metric": "Views", "tz": "UTC", "dates": ["2024-10-23", "2024-11-06"]}
    app = run(fake, "history.py", lambda path, params: {"points": [], "total": 0}, query=query)
    assert fake.requests[0] == (
        "json",
        TIMESERIES,
        {
            "metric": "views",
            "from": "2024-10-21T00:00:00+00:00",
            "to": "2024-11-11T00:00:00+00:00",
            "interval": "week",
            "tz": "UTC",
        },
    )
    assert [(s.label, s.value) for s in app.selectbox] == [
        ("Time zone", "UTC"),
        ("Interval", "week"),
        ("Metric", "views"),
    ]
    assert app.date_input[0].value == (date(2024, 10, 23), date(2024, 11, 6))


def test_a_link_with_a_minute_window_reproduces_it(fake: FakeAnalytics) -> None:
    answer = lambda path, params: {"points": [], "total": 0}  # noqa: E731
    run(fake, "history.py", answer, query={"interval": "minute", "window": "6 hours"})
    current = fake.requests[0][2]
    assert datetime.fromisoformat(current["to"]) - datetime.fromisoformat(current["from"]) == timedelta(hours=6)


TOP = [
    {"contentId": "c-3", "views": 80, "purchases": 9, "revenue": 89.91, "conversionRate": 11.25},
    {"contentId": "c-1", "views": 120, "purchases": 5, "revenue": 49.95, "conversionRate": 4.17},
    {"contentId": "c-2", "views": 300, "purchases": 2, "revenue": 19.98, "conversionRate": 0.67},
]
HEATMAP = [{"weekday": d, "hour": h, "activeUsers": d * 100 + h} for d in range(7) for h in range(24)]


MORE_VIEWED = [{**TOP[2], "contentId": f"c-{n}"} for n in range(4, 60)]  # the funnel picker's other choices


CATEGORY_ROWS = [
    {"category": "Music", "contents": 2, "views": 200, "purchases": 14, "revenue": 139.86, "conversionRate": 7.0},
    {"category": None, "contents": 1, "views": 300, "purchases": 2, "revenue": 19.98, "conversionRate": 0.67},
]


def behaviour_answer(path: str, params: dict[str, str]) -> dict[str, Any]:
    if path == CATEGORIES:
        return {"items": CATEGORY_ROWS}
    if path == TOP_CONTENT:
        return {"items": TOP if params["limit"] != "100" else [TOP[2], TOP[1], TOP[0], *MORE_VIEWED]}
    if path == FUNNEL:
        counts = (1000, 50, 40) if "contentId" not in params else (120, 6, 5)
        rates = (100.0, counts[1] / counts[0] * 100, counts[2] / counts[1] * 100)
        names = ("views", "started", "completed")
        steps = [{"step": s, "count": c, "rate": r} for s, c, r in zip(names, counts, rates, strict=True)]
        return {"steps": steps, "overallRate": counts[2] / counts[0] * 100}
    days = [
        {"date": "2026-11-01", "active": 30, "new": 10, "returning": 20},
        {"date": "2026-11-02", "active": 25, "new": 5, "returning": 20},
    ]
    return {"days": days, "heatmap": HEATMAP}


def test_behaviour_lists_the_top_content_in_the_sidecars_order(fake: FakeAnalytics) -> None:
    app = run(fake, "behaviour.py", behaviour_answer, dates=NOV, time_zone="Pacific/Auckland", ranked_by="revenue")
    table = app.dataframe[0].value
    assert table["contentId"].tolist() == ["c-3", "c-1", "c-2"]
    assert table["revenue"].tolist() == [89.91, 49.95, 19.98]
    span = {"from": CURRENT_FROM, "to": "2026-11-04T00:00:00+13:00"}
    assert fake.requests == [
        ("json", TOP_CONTENT, {"by": "revenue", **span, "limit": "10"}),
        ("json", CATEGORIES, {"by": "revenue", **span}),
        ("json", TOP_CONTENT, {"by": "views", **span, "limit": "100"}),  # the funnel's content to pick from
        ("json", FUNNEL, span),
        ("json", USERS, {**span, "tz": "Pacific/Auckland"}),
    ]


def test_behaviour_draws_the_funnel_for_all_content_or_one(fake: FakeAnalytics) -> None:
    app = run(fake, "behaviour.py", behaviour_answer, dates=NOV)
    funnel = charts(app)["funnel-chart"]["data"][0]
    assert (funnel["type"], funnel["y"], funnel["x"]) == ("bar", ["Views", "Started", "Completed"], [1000, 50, 40])
    assert funnel["text"] == ["1,000", "50 · 5.00% of views", "40 · 80.00% of started"]  # each of the step before
    # Horizontal bars labelled beside them, with room for the longest bar's label: none is cut.
    layout = charts(app)["funnel-chart"]["layout"]
    assert (funnel["orientation"], funnel["textposition"], funnel["cliponaxis"]) == ("h", "outside", False)
    assert layout["xaxis"]["range"] == [0, 1350.0]
    assert metrics(app)["Purchases per view"][0] == "4.00%"

    app = run(fake, "behaviour.py", behaviour_answer, content="c-1")
    assert [params.get("contentId") for _, path, params in fake.requests if path == FUNNEL] == ["c-1"]
    assert charts(app)["funnel-chart"]["data"][0]["x"] == [120, 6, 5]


def test_behaviour_draws_new_vs_returning_and_a_weekday_by_hour_heatmap(fake: FakeAnalytics) -> None:
    app = run(fake, "behaviour.py", behaviour_answer)
    new, returning = charts(app)["users-chart"]["data"]
    assert (new["y"], returning["y"], new["x"]) == ([10, 5], [20, 20], ["2026-11-01", "2026-11-02"])
    heatmap = charts(app)["heatmap-chart"]["data"][0]
    assert heatmap["y"] == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    assert heatmap["x"] == list(range(24))
    assert heatmap["z"] == [[d * 100 + h for h in range(24)] for d in range(7)]


def test_behaviour_says_so_when_the_range_holds_no_data(fake: FakeAnalytics) -> None:
    def answer(path: str, params: dict[str, str]) -> dict[str, Any]:
        steps = [{"step": s, "count": 0, "rate": 0.0} for s in ("views", "started", "completed")]
        return {"items": [], "steps": steps, "overallRate": 0.0, "days": [], "heatmap": []}

    app = run(fake, "behaviour.py", answer)
    assert [i.value for i in app.info] == ["No data in this range."] * 4
    assert not app.dataframe and not app.get("plotly_chart")


def test_behaviour_shows_each_failure_instead_of_failing(fake: FakeAnalytics) -> None:
    fake.errors.append(AnalyticsError("The sidecar at http://sidecar.test cannot be reached (connection refused)."))
    app = run(fake, "behaviour.py", behaviour_answer)
    assert [e.value for e in app.error] == [fake.errors[0].message] * 4
    assert not app.dataframe and not app.get("plotly_chart")


def test_behaviour_tables_read_with_separators_and_currency_and_each_has_a_csv(fake: FakeAnalytics) -> None:
    app = run(fake, "behaviour.py", behaviour_answer, dates=NOV)
    config = json.loads(app.dataframe[0].proto.columns)
    formats = {name: c.get("type_config", {}).get("format") for name, c in config.items() if name != "_index"}
    assert formats == {
        "title": None,
        "category": None,
        "contentId": None,
        "views": "localized",
        "purchases": "localized",
        "revenue": "dollar",
        "conversionRate": "%.2f%%",
    }
    assert [b.label for b in app.download_button] == [
        "Top content (CSV)",
        "Categories (CSV)",
        "Funnel (CSV)",
        "New and returning users (CSV)",
        "Active users by weekday and hour (CSV)",
    ]


def test_behaviour_min_views_is_offered_when_ranking_by_conversion_and_sent(fake: FakeAnalytics) -> None:
    app = run(fake, "behaviour.py", behaviour_answer, dates=NOV)
    assert not app.number_input  # views, purchases and revenue need no floor
    app = run(fake, "behaviour.py", behaviour_answer, dates=NOV, time_zone="Pacific/Auckland", ranked_by="conversion")
    assert [(n.label, n.value) for n in app.number_input] == [("Minimum views", 100)]
    assert fake.requests[0][2] == {
        "by": "conversion",
        "from": CURRENT_FROM,
        "to": "2026-11-04T00:00:00+13:00",
        "limit": "10",
        "minViews": "100",
    }
    app.number_input[0].set_value(20).run()
    assert [p["minViews"] for _, path, p in fake.requests if path == TOP_CONTENT and "minViews" in p][-1] == "20"


def test_behaviour_funnel_picker_offers_more_than_the_top_rows(fake: FakeAnalytics) -> None:
    app = run(fake, "behaviour.py", behaviour_answer, dates=NOV)
    picker = next(s for s in app.selectbox if s.label == "Content")
    assert picker.options[:4] == ["All content", "c-3", "c-1", "c-2"]
    assert len(picker.options) == 1 + 3 + len(MORE_VIEWED)
    picker.set_value("c-42").run()
    assert [p.get("contentId") for _, path, p in fake.requests if path == FUNNEL][-1] == "c-42"


def test_a_link_reproduces_the_behaviour_view(fake: FakeAnalytics) -> None:
    query = {
        "dates": ["2026-11-01", "2026-11-03"],
        "tz": "Pacific/Auckland",
        "by": "Conversion",
        "limit": "20",
        "minViews": "250",
        "content": "c-1",
    }
    run(fake, "behaviour.py", behaviour_answer, query=query)
    span = {"from": CURRENT_FROM, "to": "2026-11-04T00:00:00+13:00"}
    assert fake.requests[0] == ("json", TOP_CONTENT, {"by": "conversion", **span, "limit": "20", "minViews": "250"})
    assert [p for _, path, p in fake.requests if path == FUNNEL] == [{**span, "contentId": "c-1"}]


TITLED = [
    {**TOP[0], "title": "Intro to Jazz", "category": "Music"},
    {**TOP[1], "title": "c-1", "category": None},  # not in the catalogue: the sidecar sends the id
    {**TOP[2], "title": "Knife Skills", "category": "Cooking"},
]


def titled_answer(path: str, params: dict[str, str]) -> dict[str, Any]:
    if path == TOP_CONTENT:
        return {"items": TITLED}
    if path == FUNNEL and "contentId" in params:
        named = {"c-3": "Intro to Jazz", "c-2": "Knife Skills"}
        return {**behaviour_answer(path, params), "title": named.get(params["contentId"], params["contentId"])}
    return behaviour_answer(path, params)


def test_behaviour_shows_content_by_title_and_a_breakdown_by_category(fake: FakeAnalytics) -> None:
    app = run(fake, "behaviour.py", titled_answer, dates=NOV, ranked_by="revenue")
    top, groups = app.dataframe[0].value, app.dataframe[1].value
    assert top["title"].tolist() == ["Intro to Jazz", "c-1", "Knife Skills"]
    assert top["category"].tolist() == ["Music", "", "Cooking"]
    assert json.loads(app.dataframe[0].proto.columns)["title"]["label"] == "Content"
    # Categories in the sidecar's order, ranked by the same choice; no category reads as uncategorised.
    assert [s.value for s in app.subheader][:2] == ["Top content", "By category"]
    assert groups["category"].tolist() == ["Music", "Uncategorised"]
    assert groups["revenue"].tolist() == [139.86, 19.98]
    assert next(p for _, path, p in fake.requests if path == CATEGORIES)["by"] == "revenue"
    # The funnel's picker names content by title, the id beside it where they differ.
    picker = next(s for s in app.selectbox if s.label == "Content")
    assert picker.options[:4] == ["All content", "Intro to Jazz (c-3)", "c-1", "Knife Skills (c-2)"]
    picker.set_value("c-2").run()
    assert [c.value for c in app.caption][-1] == "Knife Skills (c-2)"


def test_a_link_may_name_the_metric_by_its_api_id(fake: FakeAnalytics) -> None:
    app = run(fake, "history.py", revenue_answer, query={"metric": "active_users"})
    assert next(s for s in app.selectbox if s.label == "Metric").value == "active_users"
    assert {p["metric"] for _, _, p in fake.requests} == {"active_users"}
    assert not app.warning


def test_a_link_with_an_unknown_metric_says_so_and_shows_the_default(fake: FakeAnalytics) -> None:
    app = run(fake, "history.py", revenue_answer, query={"metric": "profit"})
    assert [w.value for w in app.warning] == [
        "The link's metric='profit' is not one of revenue, transactions, active_users, views, purchases, "
        "conversion: showing the default."
    ]
    assert next(s for s in app.selectbox if s.label == "Metric").value == "revenue"


def test_a_behaviour_link_may_name_the_ranking_by_its_api_id(fake: FakeAnalytics) -> None:
    run(fake, "behaviour.py", behaviour_answer, query={"by": "revenue"})
    assert next(p["by"] for _, path, p in fake.requests if path == TOP_CONTENT) == "revenue"
