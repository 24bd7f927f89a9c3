"""The live top content on the socket, on every stack: sockets that subscribe (`?top=1`, or the
`subscribe` message) get the top content and categories of the last 5 minutes and of today every
interval, with the catalogue's titles (API and plain SQL alike); the others get nothing more, and
the snapshot is the same for both."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient, WebSocketTestSession

from server.app import create_app
from server.settings import Settings
from tests.support.helpers import LocalClient, sql

# A day no other test writes to: on the session's shared PostgreSQL database, the reset between tests
# (TRUNCATE transactions) leaves a content rollup row that holds only revenue (from an UPDATE of a
# completed transaction's amount) behind, because rollup_transactions_truncate zeroes only rows
# with purchases.
T0 = datetime(2027, 3, 3, 10, 0, tzinfo=UTC)


def _app(settings: Settings) -> TestClient:
    return LocalClient(create_app(replace(settings, interval=0.2, timezone="UTC"), clock=lambda: T0))


def _traffic(client: TestClient) -> None:
    recent = (T0 - timedelta(minutes=1)).isoformat()
    earlier = (T0 - timedelta(hours=2)).isoformat()
    events: list[dict[str, Any]] = [
        {"type": "content", "contentId": "c-1", "title": "Intro to Jazz", "category": "Music"},
        *({"type": "content_view", "contentId": "c-1", "at": recent} for _ in range(3)),
        *({"type": "content_view", "contentId": "c-2", "at": recent} for _ in range(2)),
        *({"type": "content_view", "contentId": "c-3", "at": earlier} for _ in range(4)),  # today, not recent
        {"type": "content_view", "contentId": "c-4", "at": (T0 - timedelta(days=1)).isoformat()},  # yesterday
        {"type": "transaction", "id": "t-1", "userId": "u-1", "contentId": "c-2", "amount": "12.50"}
        | {"status": "completed", "at": recent},
    ]
    assert client.post("/api/v1/events", json={"events": events}).status_code == 200
    sql(client, "INSERT INTO content (id, title, category) VALUES ('c-2', 'Knife Skills', 'Cooking')")


def _next_top(ws: WebSocketTestSession) -> dict[str, Any]:
    while (message := ws.receive_json())["type"] != "top":
        assert message["type"] in ("metrics", "subscribed"), message
    data: dict[str, Any] = message["data"]
    return data


def _tops_until_pong(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    """The top frames the socket got up to now (a ping's pong marks "now")."""
    ws.send_text('{"type": "ping"}')
    tops = []
    while (message := ws.receive_json())["type"] != "pong":
        if message["type"] == "top":
            tops.append(message)
        elif message["type"] == "metrics":
            assert set(message["data"]).isdisjoint({"top", "lastFiveMinutes", "today"})
    return tops


def _content(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i["contentId"], i["title"], i["category"], i["views"], i["purchases"], str(i["revenue"])) for i in items]


def _categories(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i["category"], i["contents"], i["views"], i["purchases"]) for i in items]


def test_a_subscriber_gets_the_top_content_and_categories_with_titles(settings: Settings) -> None:
    with _app(settings) as client:
        _traffic(client)
        with client.websocket_connect("/ws/metrics?top=1") as ws:
            data = _next_top(ws)
    assert data["at"] == "2027-03-03T10:00:00.000Z"
    recent, today = data["lastFiveMinutes"], data["today"]
    assert (recent["from"], recent["to"]) == ("2027-03-03T09:55:00.000Z", "2027-03-03T10:00:00.000Z")
    assert (today["from"], today["to"]) == ("2027-03-03T00:00:00.000Z", "2027-03-03T10:00:00.000Z")
    assert _content(recent["content"]) == [
        ("c-1", "Intro to Jazz", "Music", 3, 0, "0.0"),
        ("c-2", "Knife Skills", "Cooking", 2, 1, "12.5"),
    ]
    assert _categories(recent["categories"]) == [("Music", 1, 3, 0), ("Cooking", 1, 2, 1)]
    assert _content(today["content"]) == [
        ("c-3", "c-3", None, 4, 0, "0.0"),  # not in the catalogue: by its id
        ("c-1", "Intro to Jazz", "Music", 3, 0, "0.0"),
        ("c-2", "Knife Skills", "Cooking", 2, 1, "12.5"),
    ]
    assert _categories(today["categories"]) == [(None, 1, 4, 0), ("Music", 1, 3, 0), ("Cooking", 1, 2, 1)]


def test_only_sockets_that_subscribe_get_it_every_interval(settings: Settings) -> None:
    with _app(settings) as client:
        _traffic(client)
        with (
            client.websocket_connect("/ws/metrics?top=1") as subscriber,
            client.websocket_connect("/ws/metrics") as plain,
        ):
            first, second = _next_top(subscriber), _next_top(subscriber)  # one each interval
            assert first == second  # the clock stands still, and so do the numbers
            assert _tops_until_pong(plain) == []

            plain.send_text(json.dumps({"type": "subscribe", "top": True}))
            while (message := plain.receive_json())["type"] == "metrics":
                pass
            assert message == {"type": "subscribed", "top": True}
            assert _next_top(plain) == first

            plain.send_text(json.dumps({"type": "subscribe", "top": False}))
            while (message := plain.receive_json())["type"] != "subscribed":
                pass
            assert message == {"type": "subscribed", "top": False}
            _next_top(subscriber), _next_top(subscriber)  # two more intervals pass
            assert _tops_until_pong(plain) == []


def test_subscribe_names_alerts_or_top_as_booleans(settings: Settings) -> None:
    with _app(settings) as client, client.websocket_connect("/ws/metrics") as ws:
        for request, answer in (
            ({"type": "subscribe", "alerts": True, "top": True}, {"type": "subscribed", "alerts": True, "top": True}),
            ({"type": "subscribe", "top": "yes"}, None),
            ({"type": "subscribe"}, None),
        ):
            ws.send_text(json.dumps(request))
            while (message := ws.receive_json())["type"] in ("metrics", "top"):
                pass
            if answer is None:
                assert message["type"] == "error" and message["error"]["code"] == "invalid_message"
            else:
                assert message == answer
