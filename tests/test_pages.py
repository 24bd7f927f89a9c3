"""The realtime page, run by Streamlit's AppTest with the live subscription replaced by a fake."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

import dashboard.resources
from dashboard.settings import DashboardSettings
from dashboard.subscription import LiveView
from metrics_client import ConnectionState

PAGE = str(Path(__file__).parents[1] / "pages" / "realtime.py")


def snapshot(snapshot_id: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "revenue": {"total": 125000.50, "today": 5420.00, "thisWeek": 32100.00, "thisMonth": 98500.00},
        "activeUsers": {"current": 42, "today": 1250, "peak24h": 89},
        "transactions": {"total": 5420, "pending": 12, "completed": 5380, "failed": 28},
        "content": {"totalViews": 125000, "totalPurchases": 5380, "conversionRate": 4.30},
        "timestamp": f"2026-11-27T10:00:{snapshot_id:02d}.000Z",
        "snapshotId": snapshot_id,
        "stale": False,
    }
    for path, value in changes.items():
        section, key = path.split("__")
        data[section] = {**data[section], key: value}
    return data


@dataclass
class FakeSubscription:
    live_view: LiveView
    ws_url: str = "ws://sidecar.test/ws/metrics"
    reconnects: list[float] = field(default_factory=list)

    def view(self) -> LiveView:
        return self.live_view

    def reconnect(self) -> None:
        self.reconnects.append(time.time())


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSubscription]:
    subscription = FakeSubscription(LiveView())
    monkeypatch.setattr(dashboard.resources, "live_subscription", lambda: subscription)
    yield subscription


def run(fake: FakeSubscription, view: LiveView) -> AppTest:
    fake.live_view = view
    page = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not page.exception, page.exception
    return page


def stamped(snapshot: dict[str, Any], age: float) -> dict[str, Any]:
    """`snapshot` as if the sidecar computed it `age` seconds ago (by this machine's clock)."""
    moment = datetime.fromtimestamp(time.time() - age, UTC)
    return {**snapshot, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}


def live(*snapshots: dict[str, Any], age: float = 1.0, restamp: bool = True) -> LiveView:
    """A live connection whose latest snapshot was computed `age` seconds ago."""
    if restamp:
        snapshots = (*snapshots[:-1], stamped(snapshots[-1], age))
    return LiveView(snapshots, ConnectionState("live"), time.time(), None)


def metrics(page: AppTest) -> dict[str, tuple[str, str]]:
    """label -> (value, delta); the two "Today" metrics are told apart by order."""
    found: dict[str, tuple[str, str]] = {}
    for metric in page.metric:
        label = metric.label if metric.label not in found else f"{metric.label} (users)"
        found[label] = (metric.value, metric.delta)
    return found


def test_every_value_is_rendered_with_its_change(fake: FakeSubscription) -> None:
    before = snapshot(1)
    after = snapshot(
        2,
        revenue__today=5432.50,
        revenue__total=125013.00,
        activeUsers__current=40,
        content__totalViews=125010,
    )
    page = run(fake, live(before, after))
    assert metrics(page) == {
        "Today": ("$5,432.50", "+$12.50"),
        "Total": ("$125,013.00", "+$12.50"),
        "This week": ("$32,100.00", "$0.00"),
        "This month": ("$98,500.00", "$0.00"),
        "Now (last 5 min)": ("40", "-2"),
        "Today (users)": ("1,250", "0"),
        "Peak (24 h)": ("89", ""),
        "Views (all time)": ("125,010", "10"),
        "Purchases (all time)": ("5,380", "0"),
        "Conversion rate (all time)": ("4.30%", ""),
    }


def test_a_change_is_coloured_by_its_sign_and_no_change_is_grey_without_an_arrow(fake: FakeSubscription) -> None:
    after = snapshot(2, revenue__today=5432.50, activeUsers__current=40)
    page = run(fake, live(snapshot(1), after))
    shown: dict[str, tuple[str, int]] = {}
    for m in page.metric:  # the revenue "Today" comes before the users' one
        shown.setdefault(m.label, (MetricProto.MetricColor.Name(m.proto.color), m.proto.direction))
    up, down, none = MetricProto.MetricDirection.UP, MetricProto.MetricDirection.DOWN, MetricProto.MetricDirection.NONE
    assert shown["Today"] == ("GREEN", up)  # +$12.50
    assert shown["This week"] == ("GRAY", none)  # $0.00: not a rise
    assert shown["Now (last 5 min)"] == ("RED", down)  # -2
    assert shown["Views (all time)"] == ("GRAY", none)  # 0


def test_the_revenue_and_users_cards_carry_sparklines_of_the_kept_snapshots(fake: FakeSubscription) -> None:
    snapshots = [snapshot(i, revenue__today=100.0 + i, activeUsers__current=i % 4) for i in range(1, 21)]
    page = run(fake, live(*snapshots, restamp=False))
    sparklines = {m.label: list(m.proto.chart_data) for m in page.metric if m.proto.chart_data}
    assert sparklines == {
        "Today": [100.0 + i for i in range(1, 21)],
        "Now (last 5 min)": [float(i % 4) for i in range(1, 21)],
    }


def test_charts_are_in_the_dashboards_zone_counts_on_whole_ticks_and_downloadable(
    fake: FakeSubscription, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = DashboardSettings(timezone="Europe/Berlin")
    monkeypatch.setattr(dashboard.resources, "settings", lambda: config)
    snapshots = [snapshot(i, activeUsers__current=i % 3) for i in range(1, 4)]
    page = run(fake, live(*snapshots, restamp=False))
    charts = {chart.key: json.loads(chart.proto.spec) for chart in page.get("plotly_chart")}
    users = charts["users-chart"]
    assert users["data"][0]["x"][0] == "2026-11-27T11:00:01"  # 10:00:01 UTC on Berlin's clock
    assert users["layout"]["xaxis"]["title"]["text"] == "Time (Europe/Berlin)"
    assert (users["layout"]["yaxis"]["tickformat"], users["layout"]["yaxis"]["dtick"]) == (",d", 1)
    assert "tickformat" not in charts["revenue-chart"]["layout"]["yaxis"]  # money keeps its cents
    assert [b.label for b in page.get("download_button")] == ["Last snapshots (CSV)"]


def test_transaction_states_have_their_colours(fake: FakeSubscription) -> None:
    page = run(fake, live(snapshot(1)))
    cards = {m.value.split('data-label="')[1].split('"')[0]: m.value for m in page.markdown if "status-card" in m.value}
    assert set(cards) == {"Total", "Pending", "Completed", "Failed"}
    assert "#eab308" in cards["Pending"] and ">12<" in cards["Pending"]  # yellow
    assert "#22c55e" in cards["Completed"] and ">5,380<" in cards["Completed"]  # green
    assert "#ef4444" in cards["Failed"] and ">28<" in cards["Failed"]  # red
    assert ">5,420<" in cards["Total"]


def test_both_charts_hold_the_last_snapshots(fake: FakeSubscription) -> None:
    snapshots = [snapshot(i, revenue__today=float(i), activeUsers__current=i) for i in range(1, 21)]
    page = run(fake, live(*snapshots, restamp=False))
    charts = {chart.key: json.loads(chart.proto.spec) for chart in page.get("plotly_chart")}
    assert set(charts) == {"revenue-chart", "users-chart"}
    assert charts["revenue-chart"]["data"][0]["y"] == [float(i) for i in range(1, 21)]
    assert charts["users-chart"]["data"][0]["y"] == list(range(1, 21))
    assert len(charts["users-chart"]["data"][0]["x"]) == 20


def _indicator(page: AppTest) -> str:
    return next(m.value for m in page.markdown if 'class="connection"' in m.value)


def test_a_live_connection_shows_a_pulsing_green_dot(fake: FakeSubscription) -> None:
    page = run(fake, live(snapshot(1), age=2))
    indicator = _indicator(page)
    assert 'data-state="live"' in indicator and "live-pulse" in indicator
    assert "Live · updated 2 s ago" in indicator
    assert not [m for m in page.markdown if "badge" in m.value]


def test_a_snapshot_marked_stale_by_the_sidecar_gets_a_badge_and_is_not_live(fake: FakeSubscription) -> None:
    page = run(fake, live(snapshot(1), {**snapshot(2), "stale": True}))
    badges = [m.value for m in page.markdown if "badge" in m.value]
    assert badges == [
        ":orange-badge[:material/history: Stale: the sidecar says these numbers may no longer be current]"
    ]
    assert 'data-state="down"' in _indicator(page) and "Stale · updated 1 s ago" in _indicator(page)


def test_numbers_older_than_two_intervals_are_stale_and_not_live(fake: FakeSubscription) -> None:
    started = time.time()
    page = run(fake, live(snapshot(1), age=12))
    took = time.time() - started  # the age is read while the page renders, which is slow on a busy machine
    assert 'data-state="down"' in _indicator(page)
    [badge] = [m.value for m in page.markdown if "badge" in m.value]
    shown = re.fullmatch(r":orange-badge\[:material/history: Stale: computed (\d+) s ago\]", badge)
    assert shown is not None, badge
    assert 12 <= int(shown.group(1)) <= 12 + took


def test_a_snapshot_that_arrives_now_but_was_computed_minutes_ago_is_stale_not_live(fake: FakeSubscription) -> None:
    """Freshness is the snapshot's own age: a reconnect that is handed old numbers does not make them live."""
    view = live(snapshot(1), age=240)
    assert view.received_at is not None and time.time() - view.received_at < 1  # it just arrived
    page = run(fake, view)
    indicator = _indicator(page)
    assert 'data-state="down"' in indicator and "Live" not in indicator
    assert "Stale · updated 4 min ago" in indicator
    assert "Stale: computed 4 min ago" in next(m.value for m in page.markdown if "badge" in m.value)


def test_the_skew_measured_at_connect_is_taken_out_of_the_age(fake: FakeSubscription) -> None:
    """The sidecar's clock runs 30 s ahead of this machine's: its numbers stamped 29 s ahead of our
    clock are 1 s old, not from the future, and numbers stamped at our now are 30 s old."""
    ahead = LiveView((stamped(snapshot(1), -29),), ConnectionState("live"), time.time(), None, clock_offset=30.0)
    started = time.time()
    indicator = _indicator(run(fake, ahead))
    shown = re.search(r"Live · updated (\d+) s ago", indicator)
    assert shown is not None, indicator
    assert 1 <= int(shown.group(1)) <= 1 + (time.time() - started)
    behind = LiveView((stamped(snapshot(1), 0),), ConnectionState("live"), time.time(), None, clock_offset=30.0)
    assert "Stale · updated 30 s ago" in _indicator(run(fake, behind))


def test_a_lost_connection_keeps_the_last_numbers_and_says_it_reconnects(fake: FakeSubscription) -> None:
    view = LiveView((snapshot(1),), ConnectionState("retrying", 2, "connection refused", 2.0), time.time() - 3, None)
    page = run(fake, view)
    assert 'data-state="down"' in _indicator(page) and "Disconnected" in _indicator(page)
    assert page.warning[0].value == (
        "Connection to the sidecar lost (connection refused). Reconnecting in 2 s (attempt 2 of 5). "
        "The numbers below are the last received."
    )
    assert metrics(page)["Total"][0] == "$125,000.50"
    assert "disconnected" in next(m.value for m in page.markdown if "badge" in m.value)
    assert not page.button


def test_after_five_failures_it_says_it_keeps_trying_and_a_reconnect_button_works(fake: FakeSubscription) -> None:
    state = ConnectionState("gave_up", 5, "connection refused", retry_in=60.0)
    view = LiveView((snapshot(1),), state, time.time() - 60, None, state_since=time.time() - 15)
    started = time.time()
    page = run(fake, view)
    took = time.time() - started
    shown = re.fullmatch(
        r"Could not reach the sidecar at ws://sidecar\.test/ws/metrics after 5 attempts \(connection refused\)\."
        r" Trying again on its own every 1 min \(next in (\d+) s\)\.",
        page.error[0].value,
    )
    assert shown is not None, page.error[0].value
    assert 45 - took - 1 <= int(shown.group(1)) <= 45
    assert [b.label for b in page.button] == ["Reconnect"]
    page.button[0].click().run()
    assert len(fake.reconnects) == 1


def test_before_the_first_snapshot_the_page_says_it_waits(fake: FakeSubscription) -> None:
    page = run(fake, LiveView())
    assert page.info[0].value == "Waiting for the first snapshot from ws://sidecar.test/ws/metrics…"
    assert not page.metric


def test_the_sidecar_down_at_start_gives_a_message_not_a_traceback(fake: FakeSubscription) -> None:
    page = run(fake, LiveView((), ConnectionState("gave_up", 5, "connection refused"), None, None))
    assert page.error[0].value.startswith("Could not reach the sidecar")
    assert not page.metric


def test_a_malformed_message_is_reported_and_the_numbers_stay(fake: FakeSubscription) -> None:
    view = LiveView((snapshot(1),), ConnectionState("live"), time.time(), "the sidecar sent a message that is not JSON")
    page = run(fake, view)
    assert page.warning[0].value == (
        "Ignored a malformed message from the sidecar: the sidecar sent a message that is not JSON"
    )
    assert metrics(page)["Today"][0] == "$5,420.00"


def test_a_pause_in_updates_breaks_the_chart_line_instead_of_joining_it(fake: FakeSubscription) -> None:
    times = ["10:00:00", "10:00:05", "10:00:10", "10:20:00", "10:20:05"]
    snapshots = [
        {**snapshot(i + 1, revenue__today=float(i)), "timestamp": f"2026-11-27T{t}.000Z"} for i, t in enumerate(times)
    ]
    page = run(fake, live(*snapshots, restamp=False))
    chart = next(json.loads(c.proto.spec) for c in page.get("plotly_chart") if c.key == "revenue-chart")
    assert chart["data"][0]["y"] == [0.0, 1.0, 2.0, None, 3.0, 4.0]


def _pace_lines(page: AppTest) -> list[tuple[str, str]]:
    """(direction, text) of every pace line, in page order: revenue's two, then the users' two."""
    found = []
    for element in page.markdown:
        match = re.search(r'class="pace" data-direction="(\w+)" style="color:(#\w+)', element.value)
        if match:
            text = re.sub(r"<[^>]+>", "", element.value)
            found.append((match.group(1), match.group(2), text))
    return [(direction, f"{color} {text}") for direction, color, text in found]


def test_today_cards_compare_with_yesterday_and_last_week_at_this_time_in_colour(fake: FakeSubscription) -> None:
    pace = {"revenue": {"yesterday": 4100.00, "lastWeek": 5420.00}, "activeUsers": {"yesterday": 1300, "lastWeek": 0}}
    page = run(fake, live({**snapshot(1), "pace": pace}))
    assert _pace_lines(page) == [
        # 5,420 against 4,100: +1,320 / 4,100 = +32.2 %
        ("up", "#22c55e vs yesterday at this time: ▲ +32.2% (was $4,100.00)"),
        ("level", "#94a3b8 vs last week: = +0.0% (was $5,420.00)"),
        # 1,250 against 1,300: -50 / 1,300 = -3.8 %
        ("down", "#ef4444 vs yesterday at this time: ▼ -3.8% (was 1,300)"),
        ("up", "#22c55e vs last week: ▲ new (was 0)"),
    ]


def test_a_snapshot_without_pace_shows_grey_placeholders(fake: FakeSubscription) -> None:
    page = run(fake, live(snapshot(1)))
    assert [direction for direction, _ in _pace_lines(page)] == ["none"] * 4
    assert all(text.endswith(": n/a") for _, text in _pace_lines(page))


def _window(content: list[dict[str, Any]], categories: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "from": "2026-11-27T09:55:00.000Z",
        "to": "2026-11-27T10:00:00.000Z",
        "content": content,
        "categories": categories,
    }


LIVE_TOP = {
    "at": "2026-11-27T10:00:00.000Z",
    "lastFiveMinutes": _window(
        [
            {
                "contentId": "c-1",
                "title": "Intro to Jazz",
                "category": "Music",
                "views": 3,
                "purchases": 0,
                "revenue": 0.0,
            },
            {"contentId": "c-3", "title": "c-3", "category": None, "views": 1, "purchases": 1, "revenue": 12.5},
        ],
        [
            {"category": "Music", "contents": 1, "views": 3, "purchases": 0, "revenue": 0.0},
            {"category": None, "contents": 1, "views": 1, "purchases": 1, "revenue": 12.5},
        ],
    ),
    "today": _window([], []),
}


def test_the_live_top_content_is_shown_by_title_now_and_today(fake: FakeSubscription) -> None:
    view = replace(live(snapshot(1)), top=LIVE_TOP)
    page = run(fake, view)
    content, categories = page.dataframe[0].value, page.dataframe[1].value
    assert content["title"].tolist() == ["Intro to Jazz", "c-3"]
    assert content["views"].tolist() == [3, 1]
    assert categories["category"].tolist() == ["Music", "Uncategorised"]
    assert "**Top content · Last 5 minutes**" in [m.value for m in page.markdown]
    assert "No views or purchases yet." in [c.value for c in page.caption]  # today's lists are empty


def test_without_a_live_top_the_page_shows_no_top_tables(fake: FakeSubscription) -> None:
    page = run(fake, live(snapshot(1)))
    assert not page.dataframe
