"""`GET /api/v1/stream` under real uvicorn: events, resume by Last-Event-ID, reset, deltas, keepalive,
auth and Origin, a stalled reader dropped, and a clean end when the sidecar stops."""

from __future__ import annotations

import itertools
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

import server.sse
from server.auth import digest, parse_tokens
from server.merge_patch import apply_patch
from server.settings import Settings
from tests.support.live import prometheus_value, serve, wait_until

READER = "mt_sse_reader"
INGESTER = "mt_sse_ingester"


@dataclass
class Event:
    event: str | None
    id: int | None
    data: Any


def _events(response: httpx.Response, lines: list[str] | None = None) -> Iterator[Event]:
    """The events of a stream, as an EventSource parses them (comments kept in `lines` if given)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if lines is not None:
            lines.append(line)
        if line.startswith(":"):
            continue
        if line == "":
            if "data" in fields:
                snapshot_id = fields.get("id")
                yield Event(fields.get("event"), int(snapshot_id) if snapshot_id else None, _decode(fields["data"]))
            fields = {}
            continue
        name, _, value = line.partition(": ")
        fields[name] = value


def _decode(data: str) -> Any:
    return json.loads(data, parse_float=Decimal)


def _snapshot_id(address: str) -> int:
    return int(httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").json()["snapshotId"])


def _assert_gapless(events: list[Event], first: int) -> None:
    ids = [(e.id, e.data["stale"]) for e in events]
    assert ids[0][0] == first, ids
    for (previous, _), (snapshot_id, stale) in itertools.pairwise(ids):
        assert snapshot_id == previous + 1 or (snapshot_id == previous and stale), ids


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Request deadlines far shorter than the stream: they bound the request, never the response.
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'metrics.db'}",
        interval=0.2,
        embedded=False,
        header_timeout=0.5,
        body_timeout=0.5,
        stall_timeout=1.0,
    )


def test_snapshots_stream_as_events_with_their_ids_outlasting_the_request_deadlines(settings: Settings) -> None:
    with (
        serve(settings) as address,
        httpx.stream("GET", f"http://{address}/api/v1/stream", timeout=10) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        lines: list[str] = []
        events = _events(response, lines)
        first = next(events)
        started = time.monotonic()
        received = [first]
        while time.monotonic() - started < 1.5:  # three times the header and body deadlines
            received.append(next(events))
    assert lines[0] == "retry: 1000"
    assert all(e.event == "metrics" and e.id == e.data["snapshotId"] for e in received)
    assert set(first.data) >= {"revenue", "activeUsers", "transactions", "content", "timestamp", "stale"}
    _assert_gapless(received, first.id)
    assert len({e.id for e in received}) >= 5


def test_last_event_id_resumes_with_every_missed_snapshot_then_live(settings: Settings) -> None:
    with serve(settings) as address:
        with httpx.stream("GET", f"http://{address}/api/v1/stream", timeout=10) as response:
            last = next(_events(response)).id
        wait_until(lambda: _snapshot_id(address) >= last + 6, 20, "six intervals pass")
        headers = {"Last-Event-ID": str(last)}
        with httpx.stream("GET", f"http://{address}/api/v1/stream", headers=headers, timeout=10) as response:
            events = _events(response)
            resumed = next(events)
            assert (resumed.event, resumed.id, resumed.data) == ("resumed", None, {"type": "resumed", "since": last})
            until = _snapshot_id(address) + 3  # the replay, then three live ones
            received = []
            while not received or received[-1].id < until:
                received.append(next(events))
        assert prometheus_value(address, 'metrics_stream_resumes_total{outcome="replayed"}') == 1
    _assert_gapless(received, last + 1)


def test_since_older_than_what_is_kept_is_an_explicit_reset_event(settings: Settings, tmp_path: Path) -> None:
    small = replace(settings, history_size=3, replay_ring=3)
    with serve(small) as address:
        wait_until(lambda: _snapshot_id(address) >= 8, 20, "eight snapshots")
        with sqlite3.connect(tmp_path / "metrics.db") as db:  # as the 24 h prune does
            db.execute("DELETE FROM snapshot_log WHERE snapshot_id <= 5")
        with httpx.stream("GET", f"http://{address}/api/v1/stream?since=2", timeout=10) as response:
            events = _events(response)
            reset, current = next(events), next(events)
    assert reset.event == "reset" and reset.id is None
    assert reset.data == {"type": "reset", "since": 2, "oldest": 6, "latest": reset.data["latest"], "reason": "expired"}
    assert current.event == "metrics" and current.id >= reset.data["latest"]


def test_deltas_on_the_stream_rebuild_each_snapshot_exactly(settings: Settings) -> None:
    with (
        serve(settings) as address,
        httpx.stream("GET", f"http://{address}/api/v1/stream?deltas=1", timeout=10) as response,
    ):
        events = _events(response)
        first = next(events)
        assert first.event == "metrics"
        held = first.data
        for _ in range(5):
            event = next(events)
            assert event.event == "delta" and event.data["base"] == held["snapshotId"]
            held = apply_patch(held, event.data["patch"])
            assert held["snapshotId"] == event.id == event.data["snapshotId"]
        # The last one as REST serves it now, byte for byte, if no newer one came meanwhile.
        served = httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").content
        current = _decode(served.decode())
        if current["snapshotId"] == held["snapshotId"] and current["stale"] == held["stale"]:
            assert current == held


def test_a_quiet_stream_gets_keepalive_comments(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.sse, "KEEPALIVE_SECONDS", 0.2)
    quiet = replace(settings, interval=60)  # one snapshot at start, then nothing for a minute
    with (
        serve(quiet) as address,
        httpx.stream("GET", f"http://{address}/api/v1/stream", timeout=10) as response,
    ):
        lines = response.iter_lines()
        assert [next(lines) for _ in range(2)] == ["retry: 1000", ""]
        assert next(lines).startswith("id: ")
        while next(lines) != "":
            pass
        assert [next(lines), next(lines), next(lines)] == [": keepalive", "", ": keepalive"]


def test_the_stream_asks_for_a_read_token_by_header_or_query_and_refuses_other_origins(settings: Settings) -> None:
    guarded = replace(
        settings, tokens=parse_tokens(f"reader:read:{digest(READER)},ingester:ingest:{digest(INGESTER)}", None)
    )
    with serve(guarded) as address:
        url = f"http://{address}/api/v1/stream"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, params={"token": "mt_wrong"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {INGESTER}"}).status_code == 403
        refused = httpx.get(url, params={"token": READER}, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        for ok in ({"params": {"token": READER}}, {"headers": {"Authorization": f"Bearer {READER}"}}):
            with httpx.stream("GET", url, timeout=10, **ok) as response:  # type: ignore[arg-type]
                assert response.status_code == 200
                assert next(_events(response)).event == "metrics"
        with httpx.stream(
            "GET", url, params={"token": READER}, headers={"Origin": "http://localhost:8501"}
        ) as response:
            assert response.status_code == 200


def test_an_invalid_last_event_id_is_a_validation_error(settings: Settings) -> None:
    with serve(settings) as address:
        response = httpx.get(f"http://{address}/api/v1/stream", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "Last-Event-ID"


def test_a_client_that_stops_reading_is_dropped(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    fast = replace(settings, interval=0.05)  # fills the buffers between it and the client quickly
    with serve(fast, send_buffer=4096) as address:
        host, port = address.split(":")
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        reader.connect((host, int(port)))
        reader.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())  # and never reads
        try:
            wait_until(lambda: prometheus_value(address, "metrics_sse_connections") == 1, 10, "the stream is open")
            wait_until(lambda: prometheus_value(address, "metrics_sse_connections") == 0, 60, "it is dropped")
        finally:
            reader.close()
    assert "event stream client stalled" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "dropped without a server error"


def test_stopping_the_sidecar_ends_its_streams_cleanly(settings: Settings) -> None:
    outcome: list[str] = []
    opened = threading.Event()

    def listen(address: str) -> None:
        try:
            with httpx.stream("GET", f"http://{address}/api/v1/stream", timeout=30) as response:
                opened.set()
                for _ in _events(response):
                    pass
            outcome.append("ended")
        except httpx.HTTPError as exc:  # cut off mid-response, not ended
            outcome.append(type(exc).__name__)

    with serve(settings, timeout_graceful_shutdown=10) as address:
        listener = threading.Thread(target=listen, args=(address,))
        listener.start()
        assert opened.wait(10)
        stopping = time.monotonic()
    listener.join(15)
    assert outcome == ["ended"]
    assert time.monotonic() - stopping < 5  # not the 10 s graceful-shutdown limit
