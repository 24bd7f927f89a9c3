"""Limits with clear answers: requests per token per second (429), messages per socket per minute,
sockets per client address."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.auth import digest, parse_tokens
from server.limits import RateLimiter
from server.settings import Settings
from tests.support.helpers import LocalClient


def test_a_bucket_allows_its_burst_then_one_per_interval() -> None:
    now = [100.0]
    limiter = RateLimiter(rate=2, burst=2, clock=lambda: now[0])
    assert limiter.check("a") is None and limiter.check("a") is None
    assert limiter.check("a") == pytest.approx(0.5)  # the next is half a second away
    assert limiter.check("b") is None  # every key has its own bucket
    now[0] += 0.5
    assert limiter.check("a") is None


def test_the_table_of_buckets_is_bounded() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_keys=3)
    for key in "abcde":
        limiter.check(key)
    assert len(limiter._buckets) == 3


def test_requests_over_the_rate_get_429_with_retry_after(settings: Settings) -> None:
    tokens = parse_tokens(f"a:read:{digest('ta')},b:read:{digest('tb')}", None)
    with LocalClient(create_app(replace(settings, tokens=tokens, requests_per_second=2))) as client:
        first = {"Authorization": "Bearer ta"}
        statuses = [client.get("/api/v1/analytics/realtime-metrics", headers=first).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = client.get("/api/v1/analytics/realtime-metrics", headers=first)
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "rate_limited"
        other = client.get("/api/v1/analytics/realtime-metrics", headers={"Authorization": "Bearer tb"})
        assert other.status_code == 200  # another token has its own budget
        assert client.get("/health").status_code == 200  # health is never limited


def test_messages_over_the_rate_are_refused_then_the_socket_is_closed(settings: Settings) -> None:
    app = create_app(replace(settings, socket_messages_per_minute=3))
    with LocalClient(app) as client, client.websocket_connect("/ws/metrics") as ws:
        for _ in range(6):
            ws.send_text('{"type": "ping"}')
        replies: list[dict] = []
        while len(replies) < 6:
            message = json.loads(ws.receive_text())
            if message["type"] != "metrics":
                replies.append(message)
        assert replies[:3] == [{"type": "pong"}] * 3
        assert [r["error"]["code"] for r in replies[3:]] == ["rate_limited"] * 3
        ws.send_text('{"type": "ping"}')  # one more over the limit than the limit itself: closed
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_text()
        assert closed.value.code == 1008


def test_sockets_per_address_are_capped(settings: Settings) -> None:
    with LocalClient(create_app(replace(settings, sockets_per_address=2))) as client:
        with client.websocket_connect("/ws/metrics"), client.websocket_connect("/ws/metrics"):
            with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/ws/metrics"):
                pass
            assert refused.value.status_code == 429
        with client.websocket_connect("/ws/metrics") as ws:  # closing one frees its place
            assert json.loads(ws.receive_text())["type"] == "metrics"
