"""Pace end to end: crafted events sent through the API around local midnight, a DST jump and a
Monday far from UTC; the snapshot's `pace` over REST and the socket, on both stacks, against
values worked out by hand."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.app import create_app
from server.metrics import pace_windows
from server.settings import Settings
from tests.support.helpers import LocalClient, loop_of, refresh


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def sale(tx_id: str, user: str, amount: str, at: datetime) -> dict[str, Any]:
    return {
        "type": "transaction",
        "id": tx_id,
        "userId": user,
        "amount": amount,
        "status": "completed",
        "at": at.isoformat(),
    }


def activity(user: str, at: datetime) -> dict[str, Any]:
    return {"type": "user_activity", "userId": user, "at": at.isoformat()}


# Berlin, now Mon 2026-03-30 02:30 CEST = 00:30 UTC. Yesterday (Sun 29 March) ran from 00:00 CET
# (28 March 23:00 UTC); it had no 02:30, so it is cut off where the clocks jumped, 01:00 UTC. Last
# Monday (23 March, CET) ran from 22 March 23:00 UTC to 02:30 CET = 01:30 UTC.
BERLIN = (
    "Europe/Berlin",
    utc(2026, 3, 30, 0, 30),
    [
        sale("b-1", "u-x", "10.00", utc(2026, 3, 28, 22, 59, 59)),  # Saturday: out
        sale("b-2", "u-a", "20.00", utc(2026, 3, 28, 23)),  # local midnight: in
        sale("b-3", "u-b", "5.25", utc(2026, 3, 29, 1)),  # the jump itself: in
        sale("b-4", "u-c", "7.00", utc(2026, 3, 29, 1, 0, 1)),  # 03:00:01 CEST: after the cut-off
        activity("u-d", utc(2026, 3, 29, 0, 59)),  # 01:59 CET: in
        sale("b-5", "u-e", "100.10", utc(2026, 3, 23, 1, 30)),  # last Monday at the cut-off: in
        sale("b-6", "u-f", "1.00", utc(2026, 3, 23, 1, 30, 0, 1)),  # a microsecond later: out
    ],
    {"revenue": {"yesterday": 25.25, "lastWeek": 100.10}, "activeUsers": {"yesterday": 3, "lastWeek": 1}},
)
# Kiritimati (+14), now Mon 2026-11-30 10:00 local = Sun 29 November 20:00 UTC. Yesterday (Sun 29
# November local) ran from 28 November 10:00 UTC to 20:00 UTC; last Monday from 22 November 10:00
# to 20:00 UTC.
KIRITIMATI = (
    "Pacific/Kiritimati",
    utc(2026, 11, 29, 20),
    [
        sale("k-1", "u-x", "3.33", utc(2026, 11, 28, 9, 59, 59)),  # Saturday 23:59:59 local: out
        sale("k-2", "u-a", "4.44", utc(2026, 11, 28, 10)),  # Sunday's midnight: in
        activity("u-b", utc(2026, 11, 28, 19, 59, 59)),  # in
        activity("u-x", utc(2026, 11, 28, 20, 0, 1)),  # after the cut-off: out
        sale("k-3", "u-c", "9.99", utc(2026, 11, 22, 20)),  # last Monday at the cut-off: in
        activity("u-d", utc(2026, 11, 22, 9, 59)),  # last Sunday: out
    ],
    {"revenue": {"yesterday": 4.44, "lastWeek": 9.99}, "activeUsers": {"yesterday": 2, "lastWeek": 1}},
)


@pytest.mark.parametrize(("zone", "now", "events", "pace"), [BERLIN, KIRITIMATI], ids=["berlin-dst", "kiritimati"])
def test_pace_over_rest_and_the_socket(
    settings: Settings, zone: str, now: datetime, events: list[dict[str, Any]], pace: dict[str, Any]
) -> None:
    zoned = dataclasses.replace(settings, timezone=zone)
    with LocalClient(create_app(zoned, clock=lambda: now)) as client:
        answer = client.post("/api/v1/events", json={"events": events})
        assert answer.status_code == 200, answer.text
        # Written after the start's lists were read, with times in the days pace compares with: the
        # very next snapshot counts them (the lists' late writes changed: counted plainly).
        first = refresh(client)
        assert first["pace"] == pace
        windows = pace_windows(now, ZoneInfo(zone))
        lists = loop_of(client).pace_users
        refresh(client)
        refresh(client)  # the dropped days' lists read again, one per snapshot
        assert lists.days_kept() == sorted((zone, window.start.astimezone(ZoneInfo(zone)).date()) for window in windows)
        assert all(lists.count(window, ZoneInfo(zone), now) is not None for window in windows)
        computed = refresh(client)  # both days from the lists: a binary search each
        rest = client.get("/api/v1/analytics/realtime-metrics").json()
        with client.websocket_connect("/ws/metrics") as ws:
            while (message := ws.receive_json())["type"] != "metrics":
                pass
        # One more user, late, at yesterday's midnight: in the next snapshot, not minutes later.
        late = client.post("/api/v1/events", json={"events": [activity("u-late", windows[0].start)]})
        assert late.status_code == 200, late.text
        assert refresh(client)["pace"]["activeUsers"]["yesterday"] == pace["activeUsers"]["yesterday"] + 1
    assert computed["pace"] == rest["pace"] == message["data"]["pace"] == pace
    assert rest["snapshotId"] == message["data"]["snapshotId"] == computed["snapshotId"]
