"""The dashboard's live subscription and the script client, against a real sidecar."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from dashboard.subscription import LiveSubscription, with_top
from metrics_client import ConnectionState, GaveUp, MetricsClient
from server.settings import Settings
from tests.support.cut_proxy import cut_proxy
from tests.support.faults import free_port
from tests.support.live import prometheus_value, serve, wait_until


def test_a_new_subscription_is_prefilled_from_history(settings: Settings) -> None:
    with serve(settings) as address:
        wait_until(lambda: _latest_id(address) >= 6, 10, "the sidecar has computed a few snapshots")
        subscription = LiveSubscription(f"ws://{address}/ws/metrics")
        try:
            wait_until(lambda: len(subscription.view().snapshots) >= 6, 5, "the history arrives")
            view = subscription.view()
            ids = [s["snapshotId"] for s in view.snapshots]
            assert ids == sorted(ids) and len(set(ids)) == len(ids) and len(ids) <= 20
            assert view.state.status == "live" and view.state.error is None
            # Same machine, same clock: the offset read from the handshake's Date header is about 0
            # (the header has whole seconds, and a loaded machine delays the handshake: 1.6 s seen).
            assert view.state.clock_offset is not None and abs(view.state.clock_offset) <= 3
            assert view.latest is not None and view.latest["snapshotId"] == ids[-1]
            assert view.fresh(time.time(), settings.interval)
        finally:
            subscription.stop()


def test_the_subscription_asks_for_the_live_top_content_and_keeps_the_latest(settings: Settings) -> None:
    import httpx

    assert with_top("ws://h:1/ws/metrics?token=t&top=0") == "ws://h:1/ws/metrics?token=t&top=1"
    with serve(settings) as address:
        events = [
            {"type": "content", "contentId": "c-1", "title": "Intro to Jazz", "category": "Music"},
            {"type": "content_view", "contentId": "c-1"},
        ]
        assert httpx.post(f"http://{address}/api/v1/events", json={"events": events}).status_code == 200
        subscription = LiveSubscription(f"ws://{address}/ws/metrics")
        try:
            wait_until(lambda: subscription.view().top is not None, 10, "the live top content arrives")
            top = subscription.view().top
            assert top is not None
            [item] = top["lastFiveMinutes"]["content"]
            assert (item["contentId"], item["title"], item["category"], item["views"]) == (
                "c-1",
                "Intro to Jazz",
                "Music",
                1,
            )
        finally:
            subscription.stop()


def _latest_id(address: str) -> int:
    import httpx

    return httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").json()["snapshotId"]


async def test_the_client_backs_off_1_2_4_8_16_then_gives_up() -> None:
    delays: list[float] = []
    states: list[ConnectionState] = []

    async def no_wait(delay: float) -> None:
        delays.append(delay)

    client = MetricsClient("ws://127.0.0.1:1/ws/metrics", on_state=states.append, sleep=no_wait)
    with pytest.raises(GaveUp, match="connection refused"):
        async for _ in client.messages():
            pass
    assert delays == [1, 2, 4, 8, 16]
    assert [s.status for s in states if s.status != "connecting"] == ["retrying"] * 5 + ["gave_up"]
    assert [s.attempt for s in states if s.status == "retrying"] == [1, 2, 3, 4, 5]
    assert states[-1] == ConnectionState("gave_up", 5, "connection refused")


def test_the_subscription_recovers_when_the_sidecar_restarts(settings: Settings) -> None:
    subscription: LiveSubscription | None = None
    try:
        with serve(settings) as address:
            port = int(address.split(":")[1])
            subscription = LiveSubscription(f"ws://{address}/ws/metrics", backoff=(0.2, 0.4, 0.8, 1.6, 3.2))
            wait_until(lambda: _latest(subscription) > 0, 5, "the first snapshot")
            before = _latest(subscription)
        # the sidecar has stopped: the last numbers stay while it retries
        wait_until(lambda: subscription.view().state.status in ("retrying", "connecting"), 5, "the loss is seen")
        assert _latest(subscription) == before
        with serve(settings, port=port):
            wait_until(lambda: subscription.view().state.status == "live", 10, "it reconnects by itself")
            wait_until(lambda: _latest(subscription) > before, 5, "new snapshots flow")
    finally:
        if subscription is not None:
            subscription.stop()


def _latest(subscription: LiveSubscription) -> int:
    latest = subscription.view().latest
    return latest["snapshotId"] if latest else 0


def test_after_giving_up_it_keeps_trying_slowly_and_recovers_by_itself(settings: Settings) -> None:
    """A wall display nobody watches: the sidecar is away longer than the backoff, then returns."""
    port = free_port()
    subscription = LiveSubscription(f"ws://127.0.0.1:{port}/ws/metrics", backoff=(0.05, 0.05), retry_every=1.0)
    try:
        wait_until(lambda: subscription.view().state.status == "gave_up", 5, "it gives up")
        state = subscription.view().state
        assert state.retry_in == 1.0 and state.error == "connection refused"
        time.sleep(1.5)  # a slow retry runs (and fails) while the sidecar is still away
        assert subscription.view().state.status in ("gave_up", "connecting", "retrying")
        with serve(settings, port=port):
            wait_until(lambda: subscription.view().state.status == "live", 10, "it reconnects on its own")
            wait_until(lambda: _latest(subscription) > 0, 5, "snapshots flow again")
    finally:
        subscription.stop()


def test_reconnect_after_giving_up_starts_over(settings: Settings) -> None:
    subscription = LiveSubscription("ws://127.0.0.1:1/ws/metrics", backoff=(0.05, 0.05), retry_every=3600)
    try:
        wait_until(lambda: subscription.view().state.status == "gave_up", 5, "it gives up")
        with serve(replace(settings)) as address:
            subscription.ws_url = f"ws://{address}/ws/metrics"
            subscription.reconnect()
            wait_until(lambda: subscription.view().state.status == "live", 5, "the manual reconnect succeeds")
    finally:
        subscription.stop()


def test_tail_prints_snapshots_as_json_lines(settings: Settings) -> None:
    with serve(settings) as address:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.client", "tail", "--url", f"ws://{address}/ws/metrics"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            lines = [json.loads(process.stdout.readline()) for _ in range(3)]
        finally:
            process.terminate()
            process.wait(timeout=10)
    ids = [line["snapshotId"] for line in lines]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert set(lines[0]) >= {"revenue", "activeUsers", "transactions", "content", "timestamp", "stale"}


def test_after_a_short_disconnect_the_chart_has_every_snapshot_it_missed(settings: Settings) -> None:
    """The connection drops for several intervals while the sidecar goes on; the reconnect
    resumes with ?since= and the held snapshots are consecutive ids across the gap."""
    with serve(settings) as address, cut_proxy(address) as proxy:
        subscription = LiveSubscription(f"ws://{proxy.address}/ws/metrics", backoff=(0.3, 0.3, 0.3, 0.3, 0.3))
        try:
            wait_until(lambda: _latest(subscription) > 0, 5, "the first snapshot")
            before = _latest(subscription)
            proxy.cut(refuse_for=1.0)  # five intervals of 0.2 s away
            wait_until(lambda: subscription.view().state.status != "live", 5, "the loss is seen")
            wait_until(lambda: _latest(subscription) >= before + 8, 10, "it is back and live")
            ids = [s["snapshotId"] for s in subscription.view().snapshots]
            # The missed ones came by resume (the history request alone would also refill 20).
            assert prometheus_value(address, 'metrics_stream_resumes_total{outcome="replayed"}') >= 1
        finally:
            subscription.stop()
    tail = ids[ids.index(before) :]
    assert tail == list(range(before, before + len(tail)))
