"""The metrics service: the 24 h peak and the id sequence across restarts, the Python API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from tests.support.helpers import LocalClient, loop_of, refresh, service_of

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _at(settings: Settings, moment: datetime) -> TestClient:
    """The sidecar as if started at `moment`."""
    return LocalClient(create_app(settings, clock=lambda: moment))


def test_the_24h_peak_survives_a_restart_and_expires_after_a_day(settings: Settings) -> None:
    with _at(settings, T0) as client:
        events = [{"type": "user_activity", "userId": f"u-{i}", "at": T0.isoformat()} for i in range(3)]
        assert client.post("/api/v1/events", json={"events": events}).status_code == 200
        assert refresh(client)["activeUsers"] == {"current": 3, "today": 3, "peak24h": 3}
    with _at(settings, T0 + timedelta(minutes=10)) as client:
        assert refresh(client)["activeUsers"] == {"current": 0, "today": 3, "peak24h": 3}
    with _at(settings, T0 + timedelta(hours=24, minutes=1)) as client:
        assert refresh(client)["activeUsers"] == {"current": 0, "today": 0, "peak24h": 0}


def test_peak_is_never_below_current(settings: Settings) -> None:
    with _at(settings, T0) as client:
        refresh(client)
        events = [{"type": "user_activity", "userId": f"u-{i}", "at": T0.isoformat()} for i in range(5)]
        client.post("/api/v1/events", json={"events": events})
        assert refresh(client)["activeUsers"]["peak24h"] == 5


def test_snapshot_ids_keep_increasing_across_a_restart_and_history_is_kept(settings: Settings) -> None:
    with LocalClient(create_app(settings)) as client:
        before = [refresh(client)["snapshotId"] for _ in range(3)]
    with LocalClient(create_app(settings)) as client:
        first_after = client.get("/api/v1/analytics/realtime-metrics").json()["snapshotId"]
        with client.websocket_connect("/ws/metrics") as ws:
            ws.send_text('{"type": "history"}')
            while (message := ws.receive_json())["type"] != "history":
                pass
    assert first_after > before[-1]
    kept = [snapshot["snapshotId"] for snapshot in message["data"]]
    assert set(before) <= set(kept) and kept == sorted(kept)


def test_the_python_api_tracks_events_and_reads_metrics(client: TestClient) -> None:
    service = service_of(client)
    portal = client.portal
    assert portal.call(service.track_user_activity, "u-1").accepted == 1
    assert portal.call(lambda: service.track_content_view("c-1", "u-2")).accepted == 1
    assert (
        portal.call(
            lambda: service.record_transaction(
                "t-1", "pending", user_id="u-1", amount=Decimal("12.34"), content_id="c-1"
            )
        ).accepted
        == 1
    )
    assert portal.call(lambda: service.record_transaction("t-1", "completed")).accepted == 1
    portal.call(loop_of(client).refresh)
    metrics = portal.call(service.get_metrics)
    assert metrics["revenue"]["total"] == Decimal("12.34")
    assert metrics["transactions"] == {"total": 1, "pending": 0, "completed": 1, "failed": 0}
    assert metrics["content"] == {"totalViews": 1, "totalPurchases": 1, "conversionRate": Decimal("100.00")}
    assert metrics["activeUsers"]["current"] == 2
    assert metrics == refresh_body_as_decimal(client, metrics["snapshotId"])


def refresh_body_as_decimal(client: TestClient, snapshot_id: int) -> dict:
    """The REST body of the same snapshot, parsed with exact decimals."""
    body = json.loads(client.get("/api/v1/analytics/realtime-metrics").text, parse_float=Decimal)
    assert body["snapshotId"] == snapshot_id
    return body


def test_a_failing_maintenance_of_the_derived_tables_does_not_fail_the_snapshot(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import server.snapshot_loop

    calls: list[datetime] = []

    async def failing(_engine: Any, now: datetime, _zone: Any) -> None:
        calls.append(now)
        raise RuntimeError("fold failed")

    monkeypatch.setattr(server.snapshot_loop, "maintain_derived", failing)
    with _at(settings, T0) as client:
        events = [{"type": "user_activity", "userId": f"u-{i}", "at": T0.isoformat()} for i in range(2)]
        assert client.post("/api/v1/events", json={"events": events}).status_code == 200
        body = refresh(client)
    assert body["activeUsers"] == {"current": 2, "today": 2, "peak24h": 2}
    assert body["stale"] is False
    assert calls and all(now == T0 for now in calls)  # run after each snapshot's read, at its `now`
    assert "derived-data maintenance" in caplog.text and "fold failed" in caplog.text
