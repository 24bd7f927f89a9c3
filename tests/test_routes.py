"""REST: the snapshot's shape, ingestion's answers and error bodies, health."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.auth import parse_tokens
from server.settings import Settings
from tests.support.helpers import db_time, loop_of, refresh, service_of, sql

SPEC_EXAMPLE: dict[str, Any] = {
    "revenue": {"total": 125000.50, "today": 5420.00, "thisWeek": 32100.00, "thisMonth": 98500.00},
    "activeUsers": {"current": 42, "today": 1250, "peak24h": 89},
    "transactions": {"total": 5420, "pending": 12, "completed": 5380, "failed": 28},
    "content": {"totalViews": 125000, "totalPurchases": 5380, "conversionRate": 4.30},
    "timestamp": "2025-11-04T10:30:00.000Z",
}


def _tx(
    tx_id: str, status: str = "completed", amount: str = "10.00", user: str = "u-1", **extra: Any
) -> dict[str, Any]:
    return {"type": "transaction", "id": tx_id, "userId": user, "amount": amount, "status": status, **extra}


def test_snapshot_has_the_spec_shape_key_by_key_and_type_by_type(client: TestClient) -> None:
    client.post("/api/v1/events", json=_tx("t-1", amount="12.50"))
    body = refresh(client)
    for section, fields in SPEC_EXAMPLE.items():
        if isinstance(fields, dict):
            assert set(body[section]) == set(fields), section
            for name, example in fields.items():
                # money and the rate are JSON numbers with a fraction, counts are integers
                assert type(body[section][name]) is type(example), f"{section}.{name}"
        else:
            assert isinstance(body[section], str)
    assert set(body) == {*SPEC_EXAMPLE, "snapshotId", "stale", "pace"}
    # The shape only: whether it is fresh is timing (interval 0.2 s here), pinned in test_freshness.py.
    assert type(body["snapshotId"]) is int and type(body["stale"]) is bool
    assert datetime.strptime(body["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").microsecond % 1000 == 0
    assert body["revenue"]["total"] == 12.5


def test_money_is_written_to_the_cent(client: TestClient) -> None:
    client.post("/api/v1/events", json={"events": [_tx(f"t-{i}", amount="0.10") for i in range(3)]})
    refresh(client)
    raw = client.get("/api/v1/analytics/realtime-metrics").text
    assert '"total":0.30' in raw and '"conversionRate":0.00' in raw


def test_single_and_batch_events_are_counted(client: TestClient) -> None:
    assert client.post("/api/v1/events", json={"type": "user_activity", "userId": "u-1"}).json() == {
        "accepted": 1,
        "duplicates": 0,
    }
    batch = {
        "events": [
            {"type": "content_view", "contentId": "c-1", "userId": "u-2"},
            {"type": "content_view", "contentId": "c-1"},
            _tx("t-1", "pending", "5.00", contentId="c-1"),
            {"type": "transaction", "id": "t-1", "status": "completed"},
            _tx("t-2", "failed", "7.00"),
        ]
    }
    assert client.post("/api/v1/events", json=batch).json() == {"accepted": 5, "duplicates": 0}
    body = refresh(client)
    assert body["transactions"] == {"total": 2, "pending": 0, "completed": 1, "failed": 1}
    assert body["revenue"]["total"] == 5.0
    assert body["content"] == {"totalViews": 2, "totalPurchases": 1, "conversionRate": 50.0}
    assert body["activeUsers"]["current"] == 2


def test_the_same_batch_three_times_counts_once(client: TestClient) -> None:
    batch = {
        "events": [
            {"type": "user_activity", "userId": "u-1", "eventId": "a-1"},
            {"type": "content_view", "contentId": "c-1", "userId": "u-1", "eventId": "v-1"},
            _tx("t-1", "pending", "19.99"),
            {"type": "transaction", "id": "t-1", "status": "completed"},
        ]
    }
    answers = [client.post("/api/v1/events", json=batch).json() for _ in range(3)]
    assert answers == [
        {"accepted": 4, "duplicates": 0},
        {"accepted": 0, "duplicates": 4},
        {"accepted": 0, "duplicates": 4},
    ]
    body = refresh(client)
    assert body["transactions"] == {"total": 1, "pending": 0, "completed": 1, "failed": 0}
    assert body["revenue"]["total"] == 19.99
    assert body["content"]["totalViews"] == 1


def test_an_invalid_event_rejects_the_whole_batch_with_every_problem(client: TestClient) -> None:
    before = refresh(client)
    batch = {
        "events": [
            {"type": "user_activity", "userId": "u-1"},
            {"type": "content_view"},
            _tx("t-1", amount="1.234"),
            {"type": "transaction", "id": "t-2", "userId": "u", "amount": "-1", "status": "done"},
            "not an object",
            {"type": "teleport"},
        ]
    }
    response = client.post("/api/v1/events", json=batch)
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "validation_error",
            "message": "6 problems in the events; nothing was stored",
            "details": [
                {"index": 1, "field": "contentId", "message": "Field required"},
                {"index": 2, "field": "amount", "message": "must have at most 2 decimal places"},
                {"index": 3, "field": "status", "message": "Input should be 'pending', 'completed' or 'failed'"},
                {"index": 3, "field": "amount", "message": "must be greater than zero"},
                {"index": 4, "field": "", "message": "an event must be a JSON object"},
                {
                    "index": 5,
                    "field": "type",
                    "message": "type must be one of: user_activity, content_view, transaction, content",
                },
            ],
        }
    }
    after = refresh(client)
    assert after["activeUsers"] == before["activeUsers"] and after["transactions"] == before["transactions"]


def test_a_status_move_for_a_transaction_never_created_is_a_conflict_at_its_index(client: TestClient) -> None:
    # Valid by the body's schema (a status move needs only id and status): only the stored rows tell
    # that t-new does not exist, so it is a conflict (409), not a validation error.
    response = client.post(
        "/api/v1/events",
        json={
            "events": [
                {"type": "user_activity", "userId": "u-9"},
                {"type": "transaction", "id": "t-new", "status": "pending"},
            ]
        },
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "conflict",
            "message": "events contradict stored transactions; nothing was stored",
            "details": [
                {"index": 1, "field": "userId", "message": "required for a new transaction"},
                {"index": 1, "field": "amount", "message": "required for a new transaction"},
            ],
        }
    }
    assert refresh(client)["activeUsers"]["current"] == 0  # the valid event of the batch was not stored


@pytest.mark.parametrize(
    ("stored", "event", "field", "message"),
    [
        ("completed", {"status": "failed"}, "status", "cannot move from completed to failed"),
        ("failed", {"status": "completed"}, "status", "cannot move from failed to completed"),
        ("completed", {"status": "pending"}, "status", "cannot move from completed to pending"),
        (
            "pending",
            {"status": "completed", "amount": "11.00"},
            "amount",
            "differs from the stored transaction (10.00)",
        ),
        ("pending", {"status": "completed", "userId": "u-2"}, "userId", "differs from the stored transaction (u-1)"),
    ],
)
def test_impossible_moves_and_differing_repeats_are_conflicts(
    client: TestClient, stored: str, event: dict[str, Any], field: str, message: str
) -> None:
    assert client.post("/api/v1/events", json=_tx("t-1", stored)).status_code == 200
    batch = {"events": [{"type": "user_activity", "userId": "u-5"}, {"type": "transaction", "id": "t-1", **event}]}
    response = client.post("/api/v1/events", json=batch)
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "conflict",
            "message": "events contradict stored transactions; nothing was stored",
            "details": [{"index": 1, "field": field, "message": message}],
        }
    }
    body = refresh(client)
    assert body["transactions"][stored] == 1 and body["transactions"]["total"] == 1
    assert body["activeUsers"]["current"] == 1  # u-5's activity of the refused batch is not stored


def test_repeating_the_creation_after_completion_is_a_duplicate(client: TestClient) -> None:
    client.post(
        "/api/v1/events",
        json={"events": [_tx("t-1", "pending"), {"type": "transaction", "id": "t-1", "status": "completed"}]},
    )
    assert client.post("/api/v1/events", json=_tx("t-1", "pending")).json() == {"accepted": 0, "duplicates": 1}


@pytest.mark.parametrize("final", ["completed", "failed"])
def test_moving_a_transaction_back_to_pending_is_a_conflict(client: TestClient, final: str) -> None:
    moved = [_tx("t-1", "pending"), {"type": "transaction", "id": "t-1", "status": final}]
    assert client.post("/api/v1/events", json={"events": moved}).json() == {"accepted": 2, "duplicates": 0}
    response = client.post("/api/v1/events", json={"type": "transaction", "id": "t-1", "status": "pending"})
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "conflict",
            "message": "events contradict stored transactions; nothing was stored",
            "details": [{"index": 0, "field": "status", "message": f"cannot move from {final} to pending"}],
        }
    }
    # The same status again is a duplicate, not a conflict.
    again = client.post("/api/v1/events", json={"type": "transaction", "id": "t-1", "status": final})
    assert again.json() == {"accepted": 0, "duplicates": 1}
    assert refresh(client)["transactions"][final] == 1


@pytest.mark.parametrize("body", [b"{", b'{"type": "user_activity", "userId": NaN}', b"[1, Infinity]", b"\xff\xfe"])
def test_a_body_that_is_not_json_is_400(client: TestClient, body: bytes) -> None:
    response = client.post("/api/v1/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert set(response.json()["error"]) == {"code", "message"}


def test_more_than_1000_events_is_413(client: TestClient) -> None:
    events = [{"type": "user_activity", "userId": f"u-{i}"} for i in range(1001)]
    response = client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 413
    assert response.json() == {
        "error": {"code": "payload_too_large", "message": "a batch holds at most 1000 events, this one has 1001"}
    }
    assert client.post("/api/v1/events", json={"events": events[:1000]}).json() == {"accepted": 1000, "duplicates": 0}


def test_a_body_over_the_byte_limit_is_413(client: TestClient) -> None:
    limit = service_of(client).settings.max_body_bytes
    response = client.post("/api/v1/events", content=b" " * (limit + 1), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_events_in_the_future_beyond_five_minutes_are_refused(client: TestClient) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    late = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    assert client.post("/api/v1/events", json={"type": "user_activity", "userId": "u", "at": soon}).status_code == 200
    response = client.post("/api/v1/events", json={"type": "user_activity", "userId": "u", "at": late})
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"index": 0, "field": "at", "message": "is more than 5 minutes in the future"}
    ]


def test_another_currency_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/events", json=_tx("t-1", currency="EUR"))
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"index": 0, "field": "currency", "message": "must be USD, the deployment's currency"}
    ]


def test_rows_written_by_plain_sql_show_in_the_next_snapshot(client: TestClient) -> None:
    now = datetime.now(UTC)
    sql(
        client,
        "INSERT INTO transactions (id, user_id, content_id, amount, currency, status, created_at)"
        " VALUES ('p-1', 'u-1', 'c-1', 30.25, 'USD', 'pending', :at)",
        at=db_time(client, now),
    )
    sql(
        client,
        "INSERT INTO transactions (id, user_id, amount, currency, status, created_at, completed_at)"
        " VALUES ('p-2', 'u-2', 4.75, 'USD', 'completed', :at, :at)",
        at=db_time(client, now),
    )
    body = refresh(client)
    assert body["transactions"] == {"total": 2, "pending": 1, "completed": 1, "failed": 0}
    assert body["revenue"]["today"] == 4.75
    sql(
        client,
        "UPDATE transactions SET status = 'completed', completed_at = :at WHERE id = 'p-1'",
        at=db_time(client, now),
    )
    body = refresh(client)
    assert body["transactions"] == {"total": 2, "pending": 0, "completed": 2, "failed": 0}
    assert body["revenue"]["total"] == 35.0 and body["activeUsers"]["current"] == 2


def test_the_database_going_away_gives_503_with_retry_after(client: TestClient) -> None:
    from server.storage.db import create_engine

    service, loop = service_of(client), loop_of(client)
    working = service.engine

    def use(engine: object) -> None:  # every part of the sidecar that reaches the database
        service.engine = loop.engine = loop.leadership._engine = engine  # type: ignore[assignment]

    use(create_engine("postgresql://nobody@127.0.0.1:1/none"))
    try:
        response = client.post("/api/v1/events", json={"type": "user_activity", "userId": "u"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"]["code"] == "unavailable"
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "down"
        before = client.get("/api/v1/analytics/realtime-metrics").json()
        stale = refresh(client)
        assert stale == {**before, "stale": True}  # the same snapshot, now marked stale
        assert client.get("/health").json()["reason"] == (
            "the database cannot be reached; the numbers served are stale: the latest refresh from the database failed"
        )
    finally:
        client.portal.call(service.engine.dispose)
        use(working)
    fresh = refresh(client)
    assert fresh["stale"] is False and fresh["snapshotId"] > before["snapshotId"]


def test_errors_use_the_contract_shape_everywhere(client: TestClient) -> None:
    assert client.get("/nope").json() == {"error": {"code": "not_found", "message": "Not Found"}}
    response = client.get("/api/v1/events")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_prometheus_metrics_describe_the_sidecar(client: TestClient) -> None:
    before = client.get("/metrics").text
    for series in (  # every labelled series exists from the start, so a rate() over it is defined at once
        'metrics_ingest_requests_total{outcome="conflict"} 0.0',
        'metrics_ingest_requests_total{outcome="unavailable"} 0.0',
        'metrics_ingest_events_total{result="duplicate"} 0.0',
        'metrics_snapshots_total{outcome="failed"} 0.0',
        'metrics_ws_closes_total{reason="stalled"} 0.0',
    ):
        assert series in before, series
    client.post("/api/v1/events", json={"type": "user_activity", "userId": "u"})
    client.post("/api/v1/events", content=b"{", headers={"content-type": "application/json"})
    text = client.get("/metrics").text
    assert 'metrics_ingest_requests_total{outcome="ok"} 1.0' in text
    assert 'metrics_ingest_requests_total{outcome="invalid_json"} 1.0' in text
    assert "metrics_snapshot_compute_seconds_count" in text


def test_control_characters_in_ids_are_a_validation_error_not_a_server_error(client: TestClient) -> None:
    response = client.post("/api/v1/events", json={"type": "user_activity", "userId": "u\u0000-1"})
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"index": 0, "field": "userId", "message": "must not contain control characters"}
    ]
    assert client.post("/api/v1/events", json={"type": "user_activity", "userId": "ünï-👍"}).status_code == 200


def test_while_open_only_loopback_host_names_are_answered(settings: Settings) -> None:
    """A page that rebinds its own name to 127.0.0.1 cannot reach an open sidecar."""
    with TestClient(create_app(settings), base_url="http://attacker.example") as foreign:
        refused = foreign.post("/api/v1/events", json={"type": "user_activity", "userId": "u"})
        assert refused.status_code == 400 and refused.text == "Invalid host header"
        with pytest.raises(WebSocketDisconnect), foreign.websocket_connect("/ws/metrics"):
            pass
    for host in ("localhost", "127.0.0.1", "[::1]"):
        with TestClient(create_app(settings), base_url=f"http://{host}:3000") as local:
            assert local.get("/health").status_code == 200


def test_allowed_hosts_can_be_named_and_tokens_lift_the_default(settings: Settings) -> None:
    named = replace(settings, allowed_hosts=("metrics.example.com", "*.internal.example"))
    for host, status in (("metrics.example.com", 200), ("a.internal.example", 200), ("localhost", 400)):
        with TestClient(create_app(named), base_url=f"http://{host}") as client:
            assert client.get("/health").status_code == status
    secured = replace(settings, tokens=parse_tokens(f"ops:admin:{'a' * 64}", None))
    assert secured.hosts_allowed == ("*",)
    with TestClient(create_app(secured), base_url="http://any.example") as client:
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_events_not_sent_as_json_are_refused_with_415(client: TestClient, content_type: str | None) -> None:
    """What any web page may post to any address without a preflight cannot write events."""
    body = b'{"type": "transaction", "id": "t-x", "userId": "u", "amount": "9999999.99", "status": "completed"}'
    headers = {"content-type": content_type} if content_type else {}
    headers["origin"] = "https://evil.example"
    response = client.post("/api/v1/events", content=body, headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert refresh(client)["revenue"]["total"] == 0
    charset = client.post("/api/v1/events", content=body, headers={"content-type": "Application/JSON; charset=utf-8"})
    assert charset.status_code == 200
