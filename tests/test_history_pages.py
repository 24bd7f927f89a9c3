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
from streamlit.testing.v1 import AppTest

import dashboard.api
import dashboard.resources
from dashboard.api import FUNNEL, TIMESERIES, TOP_CONTENT, USERS, AnalyticsError
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


def run(fake: FakeAnalytics, page: str, answer: Answer, **widgets: Any) -> AppTest:
    """Open the page, set the widgets by label, run again; `fake.requests` holds that last run's."""
    object.__setattr__(fake, "answer", answer)
    app = AppTest.from_file(str(PAGES / page), default_timeout=30).run()
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
    ]


def test_history_charts_the_points_with_the_previous_period_over_them(fake: FakeAnalytics) -> None:
    app = run(fake, "history.py", revenue_answer, dates=NOV, time_zone="Pacific/Auckland", interval="hour")
    assert [r[2]["interval"] for r in fake.requests] == ["hour", "hour", "hour"]
    previous, current = charts(app)["history-chart"]["data"]
    assert current["name"] == "This period" and current["y"] == [400.5, 0, 834.0]
    assert current["x"] == ["2026-11-01T00:00:00", "2026-11-02T00:00:00", "2026-11-03T00:00:00"]  # local days
    assert previous["name"] == "Previous period" and previous["y"] == [300.0, 200.0, 500.0]
    assert previous["x"] == current["x"]  # aligned bucket by bucket
    assert previous["line"] == {"color": "#94a3b8", "dash": "dash", "width": 2}


def test_history_shows_the_totals_and_their_change_and_offers_the_csv(fake: FakeAnalytics) -> None:
    app = run(fake, "history.py", revenue_answer, dates=NOV, time_zone="Pacific/Auckland")
    assert metrics(app) == {
        "Revenue, this period": ("$1,234.50", "+$234.50 (+23.45%)"),
        "Revenue, previous period": ("$1,000.00", ""),
    }
    assert [b.label for b in app.download_button] == ["Download CSV"]
    assert fake.requests[-1] == ("csv", *fake.requests[0][1:])  # the same query as the chart
    assert app.caption[0].value == (
        "Nov 1, 2026 – Nov 3, 2026 (Pacific/Auckland), compared with the 3 days before: Oct 29, 2026 – Oct 31, 2026"
    )


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
        "Pending": ("4", "+0 (+0.00%)"),
        "Completed": ("1,200", "+200 (+20.00%)"),
        "Failed": ("3", "-3 (-50.00%)"),
    }


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
    fake.errors.append(AnalyticsError("Too many buckets: 4320 minute buckets, at most 1000", status=422))
    app = run(fake, "history.py", revenue_answer, dates=NOV, interval="minute")
    assert [e.value for e in app.error] == ["Too many buckets: 4320 minute buckets, at most 1000"]
    assert not app.get("plotly_chart") and not app.download_button


TOP = [
    {"contentId": "c-3", "views": 80, "purchases": 9, "revenue": 89.91, "conversionRate": 11.25},
    {"contentId": "c-1", "views": 120, "purchases": 5, "revenue": 49.95, "conversionRate": 4.17},
    {"contentId": "c-2", "views": 300, "purchases": 2, "revenue": 19.98, "conversionRate": 0.67},
]
HEATMAP = [{"weekday": d, "hour": h, "activeUsers": d * 100 + h} for d in range(7) for h in range(24)]


def behaviour_answer(path: str, params: dict[str, str]) -> dict[str, Any]:
    if path == TOP_CONTENT:
        return {"items": TOP}
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
        ("json", FUNNEL, span),
        ("json", USERS, {**span, "tz": "Pacific/Auckland"}),
    ]


def test_behaviour_draws_the_funnel_for_all_content_or_one(fake: FakeAnalytics) -> None:
    app = run(fake, "behaviour.py", behaviour_answer, dates=NOV)
    funnel = charts(app)["funnel-chart"]["data"][0]
    assert (funnel["type"], funnel["y"], funnel["x"]) == ("funnel", ["Views", "Started", "Completed"], [1000, 50, 40])
    assert funnel["text"] == ["1,000 · 100.00%", "50 · 5.00%", "40 · 80.00%"]
    assert metrics(app)["Views that ended in a purchase"][0] == "4.00%"

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
    assert [i.value for i in app.info] == ["No data in this range."] * 3
    assert not app.dataframe and not app.get("plotly_chart")


def test_behaviour_shows_each_failure_instead_of_failing(fake: FakeAnalytics) -> None:
    fake.errors.append(AnalyticsError("The sidecar at http://sidecar.test cannot be reached (connection refused)."))
    app = run(fake, "behaviour.py", behaviour_answer)
    assert [e.value for e in app.error] == [fake.errors[0].message] * 3
    assert not app.dataframe and not app.get("plotly_chart")
