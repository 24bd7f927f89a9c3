"""Alerts in the dashboard: the Alerts page and the realtime page's notice (AppTest, with the
subscription and the analytics client replaced), and the subscription's alert state against a
real sidecar."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import dashboard.api
import dashboard.resources
from dashboard.api import ALERTS, AnalyticsError
from dashboard.settings import DashboardSettings
from dashboard.subscription import LiveSubscription, LiveView
from metrics_client import ConnectionState
from server.alerts.rules import Rule
from server.settings import Settings
from tests.support.live import serve, wait_until
from tests.test_history_pages import FakeAnalytics
from tests.test_pages import FakeSubscription, snapshot

PAGES = Path(__file__).parents[1] / "pages"


def alert(
    alert_id: int, rule: str, state: str = "firing", severity: str = "critical", *, silenced: bool = False
) -> dict[str, Any]:
    return {
        "id": alert_id,
        "rule": rule,
        "state": state,
        "severity": severity,
        "metric": "failedShareLastHour",
        "message": f"{rule} message",
        "value": 6.5,
        "threshold": 5,
        "firedAt": "2026-11-27T10:00:00.000Z",
        "resolvedAt": None if state == "firing" else "2026-11-27T10:05:00.000Z",
        "snapshotId": 7,
        "silenced": silenced,
    }


LISTING = {
    "firing": [{**alert(2, "failed-transactions"), "valueNow": 5.5}],
    "recent": [alert(2, "failed-transactions"), alert(1, "busy", "resolved", "warning", silenced=True)],
    "rules": [{"name": "busy", "metric": "activeUsers.current", "above": 500, "clear": 400, "for": 1}],
}


_LISTING_NOW: list[dict[str, Any]] = []  # what the fake sidecar's listing answers; a test may replace it


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeSubscription, FakeAnalytics]]:
    subscription = FakeSubscription(LiveView())
    _LISTING_NOW[:] = [LISTING]
    client = FakeAnalytics(answer=lambda path, params: _LISTING_NOW[0])
    monkeypatch.setattr(dashboard.resources, "live_subscription", lambda: subscription)
    monkeypatch.setattr(dashboard.api, "analytics", lambda: client)
    monkeypatch.setattr(dashboard.resources, "settings", lambda: DashboardSettings())
    yield subscription, client


def view(*firing: dict[str, Any], status: str = "live") -> LiveView:
    return LiveView((snapshot(1),), ConnectionState(status), time.time(), None, firing, firing)  # type: ignore[arg-type]


def open_page(name: str) -> AppTest:
    page = AppTest.from_file(str(PAGES / name), default_timeout=30).run()
    assert not page.exception, page.exception
    return page


def test_the_alerts_page_shows_what_fires_by_severity_and_the_record(
    fakes: tuple[FakeSubscription, FakeAnalytics],
) -> None:
    subscription, client = fakes
    subscription.live_view = view(alert(2, "failed-transactions"), alert(3, "busy", severity="warning", silenced=True))
    page = open_page("alerts.py")
    # Its value now from the listing; `busy` is not firing there, so it keeps its message.
    assert [e.value for e in page.error] == [
        "**failed-transactions** · Failed share of the last hour's transactions: now 5.5% "
        "(fired at 6.5%, threshold 5%) · since 2026-11-27 10:00:00 UTC"
    ]
    assert [w.value for w in page.warning] == [
        "**busy** · busy message · since 2026-11-27 10:00:00 UTC · silenced (not sent to webhooks)"
    ]
    assert client.requests == [("json", ALERTS, {"limit": "50"})] * 2  # values now, then the record
    record = page.dataframe[1].value
    assert list(record["Rule"]) == ["failed-transactions", "busy"]
    assert list(record["State"]) == ["firing", "resolved (silenced)"]
    assert list(record["Resolved"]) == ["—", "2026-11-27 10:05:00 UTC"]
    assert list(page.dataframe[2].value["Rule"]) == ["busy"]
    assert [b.label for b in page.get("download_button")] == ["Latest firings (CSV)", "Rules (CSV)"]


def test_the_alerts_page_says_when_nothing_fires_and_when_the_sidecar_fails(
    fakes: tuple[FakeSubscription, FakeAnalytics],
) -> None:
    subscription, client = fakes
    subscription.live_view = view(status="retrying")
    client.errors.append(AnalyticsError("The sidecar at http://sidecar.test cannot be reached (refused)."))
    page = open_page("alerts.py")
    assert [s.value for s in page.success] == ["No alert is firing."]
    assert [w.value for w in page.warning] == ["Not connected to the sidecar: what fires may have changed since."]
    assert [e.value for e in page.error] == ["The sidecar at http://sidecar.test cannot be reached (refused)."]


def test_the_realtime_page_shows_a_notice_while_an_alert_fires(fakes: tuple[FakeSubscription, FakeAnalytics]) -> None:
    subscription, _ = fakes
    subscription.live_view = view()
    assert not open_page("realtime.py").error
    subscription.live_view = view(alert(2, "failed-transactions"))
    page = open_page("realtime.py")
    assert [e.value for e in page.error] == [
        "**failed-transactions** · Failed share of the last hour's transactions: now 5.5% "
        "(fired at 6.5%, threshold 5%) · since 2026-11-27 10:00:00 UTC"
    ]


def test_the_subscription_keeps_what_fires_and_what_happened(settings: Settings) -> None:
    # Fires on the first snapshot: never fewer than 0 active users.
    always = Rule("always", "activeUsers.current", "above", Decimal(-1), Decimal(-1), severity="info")
    with serve(replace(settings, alert_rules=(always,))) as address:
        subscription = LiveSubscription(f"ws://{address}/ws/metrics")
        try:
            wait_until(lambda: len(subscription.view().firing) == 1, 10, "the firing alert arrives")
            [firing] = subscription.view().firing
            assert (firing["rule"], firing["state"], firing["severity"]) == ("always", "firing", "info")
            assert subscription.view().alert_log == (firing,)
        finally:
            subscription.stop()


def test_the_notice_shows_the_value_now_where_the_snapshot_has_it(
    fakes: tuple[FakeSubscription, FakeAnalytics],
) -> None:
    subscription, _ = fakes
    pending = {**alert(4, "many-pending", severity="warning"), "metric": "transactions.pending", "value": 30}
    subscription.live_view = view(pending, alert(2, "failed-transactions"))
    page = open_page("realtime.py")
    # The snapshot says 12 pending now; the record keeps the 30 it fired at.
    assert [w.value for w in page.warning] == [
        "**many-pending** · Transactions · pending: now 12 (fired at 30, threshold 5) · since 2026-11-27 10:00:00 UTC"
    ]
    # A signal the snapshot does not carry: its value now from the sidecar's listing.
    assert [e.value for e in page.error] == [
        "**failed-transactions** · Failed share of the last hour's transactions: now 5.5% "
        "(fired at 6.5%, threshold 5%) · since 2026-11-27 10:00:00 UTC"
    ]


def test_a_signal_s_notice_keeps_its_message_when_the_listing_cannot_say(
    fakes: tuple[FakeSubscription, FakeAnalytics],
) -> None:
    subscription, client = fakes
    subscription.live_view = view(alert(2, "failed-transactions"))
    _LISTING_NOW[0] = {**LISTING, "firing": [{**alert(2, "failed-transactions"), "valueNow": None}]}
    assert [e.value for e in open_page("realtime.py").error] == [
        "**failed-transactions** · failed-transactions message · since 2026-11-27 10:00:00 UTC"
    ]
    client.errors.append(AnalyticsError("The sidecar at http://sidecar.test cannot be reached (refused)."))
    assert [e.value for e in open_page("realtime.py").error] == [
        "**failed-transactions** · failed-transactions message · since 2026-11-27 10:00:00 UTC"
    ]


def test_a_stale_snapshot_s_number_is_not_shown_as_now(fakes: tuple[FakeSubscription, FakeAnalytics]) -> None:
    subscription, _ = fakes
    pending = {**alert(4, "many-pending", severity="warning"), "metric": "transactions.pending", "value": 30}
    stale = {**snapshot(1), "stale": True}
    subscription.live_view = LiveView((stale,), ConnectionState("live"), time.time(), None, (pending,), (pending,))  # type: ignore[arg-type]
    _LISTING_NOW[0] = {**LISTING, "firing": [{**pending, "valueNow": None}]}
    page = open_page("realtime.py")  # not "now 12": the stale snapshot's number may be old
    assert [w.value for w in page.warning] == [
        "**many-pending** · many-pending message · since 2026-11-27 10:00:00 UTC"
    ]


def test_the_log_shows_each_alert_once_as_its_latest_transition_says(
    fakes: tuple[FakeSubscription, FakeAnalytics],
) -> None:
    subscription, _ = fakes
    fired, other = alert(2, "failed-transactions"), alert(3, "busy", severity="warning")
    resolved = {**fired, "state": "resolved", "resolvedAt": "2026-11-27T10:05:00.000Z"}
    log = (resolved, other, fired)  # newest first: failed-transactions fired, busy fired, then the first resolved
    subscription.live_view = LiveView((snapshot(1),), ConnectionState("live"), time.time(), None, (other,), log)  # type: ignore[arg-type]
    page = open_page("alerts.py")
    since_start = page.dataframe[0].value
    assert list(since_start["Rule"]) == ["failed-transactions", "busy"]
    assert list(since_start["State"]) == ["resolved", "firing"]


def test_the_rules_read_with_their_units(fakes: tuple[FakeSubscription, FakeAnalytics]) -> None:
    subscription, _ = fakes
    subscription.live_view = view()
    _LISTING_NOW[0] = {
        **LISTING,
        "rules": [
            {"name": "failed", "metric": "failedShareLast15Minutes", "above": 5, "clear": 4, "for": 1},
            {"name": "drop", "metric": "revenue.today", "below": 1000, "clear": 1200, "for": 3, "severity": "info"},
        ],
    }
    rules = open_page("alerts.py").dataframe[-1].value
    assert list(rules["Watches"]) == ["Failed share of the last 15 minutes' transactions", "Revenue · today"]
    assert list(rules["Fires when"]) == ["above 5%", "below $1,000.00"]
    assert list(rules["Resolves at"]) == ["4%", "$1,200.00"]
    assert list(rules["For"]) == ["1 snapshot", "3 snapshots"]
