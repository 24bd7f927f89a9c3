"""`/ws/metrics` through the ASGI interface: the protocol message by message."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.hub import Outbox
from tests.support.helpers import refresh


def _metrics(ws: object, *, fresh: bool = False) -> dict:
    """The next push; with `fresh`, the next one with new numbers (a stale repeat of the current
    snapshot, pushed when one is late on a busy machine, is skipped)."""
    while True:
        message = json.loads(ws.receive_text())  # type: ignore[attr-defined]
        assert message["type"] == "metrics"
        if not (fresh and message["data"]["stale"]):
            return message["data"]


def test_connect_gets_the_current_snapshot_at_once(client: TestClient) -> None:
    current = refresh(client)
    with client.websocket_connect("/ws/metrics") as ws:
        assert _metrics(ws) == current


def test_pushes_follow_every_interval_with_increasing_ids(client: TestClient) -> None:
    with client.websocket_connect("/ws/metrics") as ws:
        ids = [_metrics(ws, fresh=True)["snapshotId"] for _ in range(4)]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert ids[-1] - ids[0] == 3  # a reading client misses none


def test_ping_gets_pong(client: TestClient) -> None:
    with client.websocket_connect("/ws/metrics") as ws:
        _metrics(ws)
        ws.send_text('{"type": "ping"}')
        assert _next_non_metrics(ws) == {"type": "pong"}


def _next_non_metrics(ws: object) -> dict:
    while True:
        message = json.loads(ws.receive_text())  # type: ignore[attr-defined]
        if message["type"] != "metrics":
            return message


def test_history_is_at_most_20_snapshots_oldest_first_ending_with_the_current(client: TestClient) -> None:
    for _ in range(22):
        refresh(client)
    with client.websocket_connect("/ws/metrics") as ws:
        current = _metrics(ws)
        ws.send_text('{"type": "history"}')
        history = _next_non_metrics(ws)
    assert history["type"] == "history"
    ids = [snapshot["snapshotId"] for snapshot in history["data"]]
    assert len(ids) == 20
    assert ids == sorted(ids)
    assert ids[-1] >= current["snapshotId"]


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"kind": "ping"}', "invalid_message"),
        ('{"type": "unsubscribe"}', "unknown_type"),
        ('{"type": "subscribe"}', "invalid_message"),
    ],
)
def test_invalid_messages_get_an_error_and_the_socket_stays_open(client: TestClient, sent: str, code: str) -> None:
    with client.websocket_connect("/ws/metrics") as ws:
        ws.send_text(sent)
        error = _next_non_metrics(ws)
        assert error["type"] == "error" and error["error"]["code"] == code
        assert isinstance(error["error"]["message"], str) and error["error"]["message"]
        ws.send_text('{"type": "ping"}')
        assert _next_non_metrics(ws) == {"type": "pong"}


def test_binary_frames_get_an_error(client: TestClient) -> None:
    with client.websocket_connect("/ws/metrics") as ws:
        ws.send_bytes(b'{"type": "ping"}')
        assert _next_non_metrics(ws)["error"]["code"] == "invalid_message"


def test_a_frame_over_64_kb_closes_with_1009(client: TestClient) -> None:
    with client.websocket_connect("/ws/metrics") as ws:
        ws.send_text('{"type": "ping", "pad": "' + "x" * 65536 + '"}')
        while True:
            message = ws.receive()
            if message["type"] == "websocket.close":
                break
        assert message["code"] == 1009


def test_a_frame_of_exactly_64_kb_is_answered(client: TestClient) -> None:
    frame = '{"type":"ping","pad":"'
    frame += "x" * (65536 - len(frame) - 2) + '"}'
    assert len(frame.encode()) == 65536
    with client.websocket_connect("/ws/metrics") as ws:
        ws.send_text(frame)
        assert _next_non_metrics(ws) == {"type": "pong"}


def test_a_browser_from_another_origin_is_refused_before_accept(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/ws/metrics", headers={"origin": "https://evil.example"}),
    ):
        pass
    with client.websocket_connect("/ws/metrics", headers={"origin": "http://localhost:8501"}) as ws:
        assert _metrics(ws)["snapshotId"] >= 1


async def test_a_client_that_falls_behind_gets_only_the_newest_snapshot() -> None:
    outbox = Outbox(max_replies=4)
    for snapshot_id in range(1, 6):
        outbox.offer_snapshot(f"snapshot {snapshot_id}")
    outbox.offer_reply("pong")
    assert await outbox.next() == "pong"  # replies first, in order
    assert await outbox.next() == "snapshot 5"
    assert outbox.skipped == 4


def test_a_client_sending_faster_than_it_reads_replies_is_bounded() -> None:
    outbox = Outbox(max_replies=2)
    assert outbox.offer_reply("a") and outbox.offer_reply("b")
    assert outbox.offer_reply("c") is False
