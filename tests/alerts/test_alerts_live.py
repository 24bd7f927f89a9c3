"""Alerts end to end through the app: evaluated on computed snapshots, kept in the database,
pushed to the sockets that asked, listed by GET /api/v1/alerts; each fires and resolves once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.testclient import TestClient, WebSocketTestSession

from server.alerts.rules import Rule
from server.app import create_app
from server.settings import Settings
from tests.support.helpers import LocalClient, refresh

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday
BUSY = Rule("busy", "activeUsers.current", "above", Decimal(2), Decimal(1), severity="critical")
FAILED = Rule("failed-transactions", "failedShareLastHour", "above", Decimal(5), Decimal(4))
DROP = Rule("revenue-drop", "revenueTodayVsLastWeek", "below", Decimal(-30), Decimal(-25))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _app(settings: Settings, clock: Clock, *rules: Rule) -> TestClient:
    # Snapshots only when the test asks (no interval loop in between), with these rules only.
    return LocalClient(create_app(replace(settings, interval=3600, alert_rules=rules), clock=clock))


def _activity(client: TestClient, at: datetime, *users: str) -> None:
    events = [{"type": "user_activity", "userId": user, "at": at.isoformat()} for user in users]
    assert client.post("/api/v1/events", json={"events": events}).status_code == 200


def _alerts_until_pong(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    """Every alert frame the socket got up to now (a ping's pong marks "now")."""
    ws.send_text('{"type": "ping"}')
    alerts = []
    while (message := ws.receive_json())["type"] != "pong":
        if message["type"] == "alert":
            alerts.append(message["data"])
    return alerts


def test_an_alert_fires_once_and_resolves_once_on_the_socket_and_in_the_listing(settings: Settings) -> None:
    clock = Clock(T0)
    with _app(settings, clock, BUSY) as client, client.websocket_connect("/ws/metrics?alerts=true") as ws:
        _alerts_until_pong(ws)
        _activity(client, T0, "u-1", "u-2", "u-3")
        fired_in = refresh(client)["snapshotId"]
        [fired] = _alerts_until_pong(ws)
        assert fired == {
            "id": fired["id"],
            "rule": "busy",
            "state": "firing",
            "severity": "critical",
            "metric": "activeUsers.current",
            "message": "activeUsers.current is 3, above 2",
            "value": 3,
            "threshold": 2,
            "firedAt": "2026-11-27T10:00:00.000Z",
            "resolvedAt": None,
            "snapshotId": fired_in,
            "silenced": False,
        }
        listing = client.get("/api/v1/alerts").json()
        # The listing also says each firing alert's value now (the frames say transitions only).
        assert listing["firing"] == [{**fired, "valueNow": 3}] and listing["recent"] == listing["firing"]
        assert listing["rules"] == [
            {"name": "busy", "metric": "activeUsers.current", "above": 2, "clear": 1, "for": 1, "severity": "critical"}
        ]

        refresh(client)  # still 3: nothing new
        clock.now = T0 + timedelta(minutes=2)
        _activity(client, clock.now, "u-1", "u-2")  # 3 users are still within 5 minutes: above 1
        refresh(client)
        assert _alerts_until_pong(ws) == []

        clock.now = T0 + timedelta(minutes=6)  # only u-1 and u-2 remain: 2, not yet at clear (1)
        refresh(client)
        assert _alerts_until_pong(ws) == []
        assert [a["valueNow"] for a in client.get("/api/v1/alerts").json()["firing"]] == [2]
        clock.now = T0 + timedelta(minutes=8)  # nobody within 5 minutes
        resolved_in = refresh(client)["snapshotId"]
        refresh(client)
        [resolved] = _alerts_until_pong(ws)
        assert resolved == {
            **fired,
            "state": "resolved",
            "value": 0,
            "resolvedAt": "2026-11-27T10:08:00.000Z",
            "snapshotId": resolved_in,
        }
        listing = client.get("/api/v1/alerts").json()
        assert listing["firing"] == []
        assert [(a["state"], a["value"], a["snapshotId"], a["valueNow"]) for a in listing["recent"]] == [
            ("resolved", 3, fired_in, None)
        ]


def test_only_sockets_that_ask_get_alerts_and_late_subscribers_get_what_fires_now(settings: Settings) -> None:
    clock = Clock(T0)
    with _app(settings, clock, BUSY) as client, client.websocket_connect("/ws/metrics") as plain:
        _activity(client, T0, "u-1", "u-2", "u-3")
        refresh(client)
        assert _alerts_until_pong(plain) == []
        plain.send_text(json.dumps({"type": "subscribe", "alerts": True}))
        while (message := plain.receive_json())["type"] == "metrics":
            pass
        assert message == {"type": "subscribed", "alerts": True}
        assert plain.receive_json()["data"]["state"] == "firing"  # the alert firing now, at once
        plain.send_text(json.dumps({"type": "subscribe", "alerts": False}))
        clock.now = T0 + timedelta(minutes=10)
        refresh(client)
        assert _alerts_until_pong(plain) == []  # unsubscribed: the resolution is not sent
        assert client.get("/api/v1/alerts").json()["firing"] == []


def test_a_restart_neither_fires_again_nor_forgets_to_resolve(settings: Settings) -> None:
    clock = Clock(T0)
    with _app(settings, clock, BUSY) as client:
        _activity(client, T0, "u-1", "u-2", "u-3")
        refresh(client)
    with _app(settings, clock, BUSY) as client, client.websocket_connect("/ws/metrics?alerts=true") as ws:
        refresh(client)
        [still] = _alerts_until_pong(ws)  # told at once that it fires, not fired anew
        assert still["state"] == "firing" and len(client.get("/api/v1/alerts").json()["recent"]) == 1
        clock.now = T0 + timedelta(minutes=10)
        refresh(client)
        assert [a["state"] for a in _alerts_until_pong(ws)] == ["resolved"]
        assert [a["id"] for a in client.get("/api/v1/alerts").json()["recent"]] == [still["id"]]


def test_failed_share_of_the_last_hour(settings: Settings) -> None:
    clock = Clock(T0)

    def transactions(prefix: str, count: int, status: str, at: datetime) -> list[dict[str, Any]]:
        return [
            {
                "type": "transaction",
                "id": f"{prefix}-{i}",
                "userId": "u",
                "amount": "1.00",
                "status": status,
                "at": at.isoformat(),
            }
            for i in range(count)
        ]

    with _app(settings, clock, FAILED) as client, client.websocket_connect("/ws/metrics?alerts=true") as ws:
        # Failures older than an hour do not count.
        old = transactions("old", 50, "failed", T0 - timedelta(hours=1))
        recent = transactions("ok", 18, "completed", T0 - timedelta(minutes=30))
        recent += transactions("bad", 2, "failed", T0 - timedelta(minutes=59))
        assert client.post("/api/v1/events", json={"events": old + recent}).status_code == 200
        refresh(client)
        [fired] = _alerts_until_pong(ws)
        assert (fired["state"], fired["value"]) == ("firing", 10)
        assert fired["message"] == "failedShareLastHour is 10, above 5"
        # The signal's value now, read when asked: one more failure makes it 3 of 21.
        assert client.post("/api/v1/events", json={"events": transactions("worse", 1, "failed", T0)}).status_code == 200
        [now] = client.get("/api/v1/alerts").json()["firing"]
        assert (now["value"], now["valueNow"]) == (10, 14.29)
        more = transactions("more", 54, "completed", T0)
        assert client.post("/api/v1/events", json={"events": more}).status_code == 200
        refresh(client)  # 3 of 75: exactly 4, the clear level
        [resolved] = _alerts_until_pong(ws)
        assert (resolved["state"], resolved["value"]) == ("resolved", 4)


def test_revenue_today_against_the_same_time_last_week(settings: Settings) -> None:
    clock = Clock(T0)
    last_week = T0 - timedelta(days=7)

    def sale(tx: str, amount: str, at: datetime) -> dict[str, Any]:
        return {
            "type": "transaction",
            "id": tx,
            "userId": "u",
            "amount": amount,
            "status": "completed",
            "at": at.isoformat(),
        }

    with _app(settings, clock, DROP) as client, client.websocket_connect("/ws/metrics?alerts=true") as ws:
        events = [
            sale("w-1", "80.00", last_week - timedelta(hours=2)),
            sale("w-2", "20.00", last_week - timedelta(minutes=1)),
            sale("w-late", "900.00", last_week + timedelta(minutes=1)),  # after the same time: not compared
            sale("t-1", "69.99", T0 - timedelta(hours=1)),
        ]
        assert client.post("/api/v1/events", json={"events": events}).status_code == 200
        refresh(client)
        [fired] = _alerts_until_pong(ws)
        assert (fired["rule"], fired["state"], fired["value"]) == ("revenue-drop", "firing", -30.01)
        assert client.post("/api/v1/events", json=sale("t-2", "5.01", T0)).status_code == 200
        refresh(client)  # 75.00 against 100.00: -25, the clear level
        [resolved] = _alerts_until_pong(ws)
        assert (resolved["state"], resolved["value"]) == ("resolved", -25)


def test_the_listing_validates_its_limit(settings: Settings) -> None:
    with _app(settings, Clock(T0), BUSY) as client:
        # "²" is a digit to str.isdigit() and not to int(): it was a 500.
        for limit in ("0", "501", "-1", "1.0", "²", "", " 5"):
            response = client.get("/api/v1/alerts", params={"limit": limit})
            assert response.status_code == 422, limit
            assert response.json()["error"]["details"] == [
                {"field": "limit", "message": "must be a whole number from 1 to 500"}
            ]
        assert client.get("/api/v1/alerts", params={"limit": "500"}).status_code == 200


def test_the_listing_refuses_a_limit_given_twice(settings: Settings) -> None:
    with _app(settings, Clock(T0), BUSY) as client:
        response = client.get("/api/v1/alerts?limit=5&limit=6")
        assert response.status_code == 422
        assert response.json() == {
            "error": {
                "code": "validation_error",
                "message": "1 invalid parameter",
                "details": [{"field": "limit", "message": "given more than once"}],
            }
        }
