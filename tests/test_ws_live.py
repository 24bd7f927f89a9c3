"""`/ws/metrics` served by real uvicorn: what only a real network connection shows."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import replace

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from server.settings import Settings
from tests.support.live import RawPeer, prometheus_value, serve, wait_until


def _next_metrics(ws: object) -> dict:
    """The next push with new numbers (a stale repeat of the current snapshot, pushed when one is
    late on a busy machine, is skipped)."""
    while True:
        message = json.loads(ws.recv(timeout=5))  # type: ignore[attr-defined]
        if message["type"] == "metrics" and not message["data"]["stale"]:
            return message["data"]


def test_a_stalled_client_never_delays_the_others_and_is_closed(settings: Settings) -> None:
    settings = replace(settings, stall_timeout=1.0)
    with serve(settings, send_buffer=4096) as address, connect(f"ws://{address}/ws/metrics") as healthy:
        for _ in range(20):  # fill the history: each reply below is then ~7 KB
            _next_metrics(healthy)
        stalled = RawPeer(address, receive_buffer=4096)
        assert stalled.status == 101
        # far more than both kernel buffers and uvicorn's write buffer hold; the peer reads none of it
        for _ in range(30):
            stalled.send_text('{"type": "history"}')
        first = _next_metrics(healthy)["snapshotId"]
        received = [_next_metrics(healthy)["snapshotId"] for _ in range(10)]
        # every snapshot reaches the reading client, in order, none skipped
        assert received == list(range(first + 1, first + 11))
        wait_until(
            lambda: prometheus_value(address, 'metrics_ws_closes_total{reason="stalled"}') == 1.0,
            timeout=10,
            message="the stalled client is closed",
        )
        assert prometheus_value(address, "metrics_ws_connections") == 1.0
        assert _next_metrics(healthy)["snapshotId"] > received[-1]
        stalled.close()


def test_a_dead_peer_that_never_answers_pings_is_dropped(settings: Settings) -> None:
    with serve(settings, ws_ping_interval=0.3, ws_ping_timeout=0.3) as address:
        peer = RawPeer(address)
        assert peer.status == 101
        wait_until(lambda: prometheus_value(address, "metrics_ws_connections") == 1.0, 5, "the peer is counted")
        # the peer reads nothing and so never answers the server's keepalive pings
        wait_until(lambda: prometheus_value(address, "metrics_ws_connections") == 0.0, 10, "the peer is dropped")
        peer.close()


def test_a_frame_over_64_kb_is_closed_with_1009_by_the_server(settings: Settings) -> None:
    with serve(settings) as address, connect(f"ws://{address}/ws/metrics", max_size=None) as ws:
        _next_metrics(ws)
        ws.send('{"type": "ping", "pad": "' + "x" * 70000 + '"}')
        with pytest.raises(ConnectionClosedError) as closed:
            while True:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_handshake_from_a_foreign_origin_gets_403(settings: Settings) -> None:
    with serve(settings) as address:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://{address}/ws/metrics", origin="https://evil.example")
        assert refused.value.response.status_code == 403
        with connect(f"ws://{address}/ws/metrics", origin="http://localhost:8501") as ws:
            assert _next_metrics(ws)["stale"] is False


def test_snapshots_stay_fresh_while_events_are_ingested_concurrently(settings: Settings) -> None:
    """Snapshots computed between concurrent ingest commits are never refused as stale."""
    settings = replace(settings, interval=0.05)
    stop = threading.Event()

    def post_events(worker: int) -> None:
        with httpx.Client() as http:
            for i in itertools.count():
                if stop.is_set():
                    return
                http.post(f"http://{address}/api/v1/events", json={"type": "user_activity", "userId": f"u{worker}-{i}"})

    with serve(settings) as address:
        workers = [threading.Thread(target=post_events, args=(k,)) for k in range(4)]
        for worker in workers:
            worker.start()
        try:
            wait_until(
                lambda: prometheus_value(address, 'metrics_snapshots_total{outcome="computed"}') >= 30,
                timeout=30,
                message="30 snapshots are computed under load",
            )
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        assert prometheus_value(address, 'metrics_snapshots_total{outcome="stale"}') == 0.0


def test_many_requests_in_one_write_are_all_answered_when_the_client_reads(settings: Settings) -> None:
    """60 requests in one TCP write: the server reads them faster than it can send 60 replies, but a
    client that reads its replies is slowed down, never closed (the limit is on unread replies)."""
    with serve(settings) as address:
        peer = RawPeer(address)
        assert peer.status == 101
        peer.sock.sendall(b"".join(peer.frame_bytes(0x81, b'{"type":"ping"}') for _ in range(60)))
        pongs = 0
        while pongs < 60:
            frame = peer.next_frame(timeout=5)
            assert frame is not None and frame[0] == 0x1, f"closed after {pongs} pongs: {frame}"
            pongs += frame[1] == b'{"type":"pong"}'
        assert prometheus_value(address, 'metrics_ws_closes_total{reason="flooding"}') == 0.0
        peer.close()


def test_protocol_ping_frames_count_against_the_message_budget(settings: Settings) -> None:
    settings = replace(settings, socket_messages_per_minute=5)
    with serve(settings) as address:
        peer = RawPeer(address)
        assert peer.status == 101
        answered = 0
        for _ in range(5):
            peer.send_bytes_frame(0x89, b"hi")  # a ping frame: the protocol answers it itself
            while (frame := peer.next_frame(timeout=5)) is not None and frame[0] != 0xA:
                pass  # snapshots in between
            answered += frame == (0xA, b"hi")
        assert answered == 5
        peer.send_bytes_frame(0x89, b"hi")  # one over the budget
        assert peer.close_code(timeout=5) == 1008
