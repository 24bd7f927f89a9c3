"""Alert webhooks against a receiver of the tests' own (a real HTTP server on a spare port): one
signed post per transition and webhook, retries with backoff after 5xx, a bounded queue, a hanging
or dead receiver that never holds up the snapshots, silences, and a single delivering instance."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.alerts.delivery import DeliveryPolicy, Outcome, WebhookDelivery
from server.alerts.rules import Rule
from server.alerts.silences import Silence
from server.alerts.webhooks import Webhook
from server.app import create_app
from server.settings import Settings
from tests.helpers import LocalClient, loop_of, refresh
from tests.live import wait_until
from tests.webhook_receiver import Received, receiving

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
SECRET = "test-secret-0123456789-abcdef"
BUSY = Rule("busy", "activeUsers.current", "above", Decimal(2), Decimal(1), severity="critical")
FAST = DeliveryPolicy(first_backoff=0.01, max_backoff=0.05, timeout=5.0, drain_timeout=2.0)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def verified(received: Received, secret: str = SECRET) -> bool:
    """The receiver's check, as the README documents it (written here independently of the server)."""
    timestamp = received.headers["x-metrics-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, received.headers["x-metrics-signature"])


def _app(
    settings: Settings,
    clock: Clock,
    webhooks: tuple[Webhook, ...],
    *,
    silences: tuple[Silence, ...] = (),
    policy: DeliveryPolicy = FAST,
    interval: float = 3600,
    rules: tuple[Rule, ...] = (BUSY,),
) -> TestClient:
    # interval 3600: snapshots only when the test asks, unless it wants the loop running.
    configured = replace(
        settings,
        interval=interval,
        alert_rules=rules,
        alert_webhooks=webhooks,
        alert_silences=silences,
        webhook_delivery=policy,
    )
    return LocalClient(create_app(configured, clock=clock))


def _busy_at(client: TestClient, at: datetime) -> None:
    """Three users active at `at`: BUSY (above 2) fires on a snapshot within 5 minutes of it."""
    events = [{"type": "user_activity", "userId": f"u-{n}", "at": at.isoformat()} for n in range(3)]
    assert client.post("/api/v1/events", json={"events": events}).status_code == 200


def _count(client: TestClient, webhook: str, outcome: str) -> float:
    sample = f'metrics_alert_webhook_deliveries_total{{outcome="{outcome}",webhook="{webhook}"}} '
    return _sample(client, sample)


def _sample(client: TestClient, sample: str) -> float:
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith(sample)]
    assert len(lines) == 1, f"{sample!r} is not exposed"
    return float(lines[0].split()[-1])


def _body(received: Received) -> dict[str, Any]:
    return json.loads(received.body)


# -- through the app -----------------------------------------------------------------------------


def test_each_transition_reaches_each_webhook_once_signed(settings: Settings) -> None:
    clock = Clock(T0)
    with receiving() as ops, receiving("/services/T000/B000/secretpart") as chat:
        hooks = (Webhook("ops", "json", ops.url, SECRET), Webhook("chat", "slack", chat.url))
        with _app(settings, clock, hooks) as client:
            assert [_count(client, hook, "delivered") for hook in ("ops", "chat")] == [0, 0]  # exist at 0
            _busy_at(client, T0)
            fired_in = refresh(client)["snapshotId"]
            refresh(client)  # still firing: nothing new
            clock.now = T0 + timedelta(minutes=10)
            resolved_in = refresh(client)["snapshotId"]
            refresh(client)
            wait_until(lambda: _count(client, "ops", "delivered") == 2, 15, "both transitions are delivered")
            wait_until(lambda: _count(client, "chat", "delivered") == 2, 15, "both reach the Slack webhook")
            holder = loop_of(client).leadership.holder
            alert_id = client.get("/api/v1/alerts").json()["recent"][0]["id"]
        assert len(ops.received) == 2 and len(chat.received) == 2  # nothing more after shutdown either

    firing, resolved = ops.received
    assert all(verified(post) for post in ops.received)
    assert not verified(replace(firing, body=firing.body.replace(b'"value":3', b'"value":4')))
    assert firing.path == "/hooks/metrics" and firing.headers["content-type"] == "application/json"
    deployment = _body(firing)["deployment"]
    assert isinstance(deployment, str) and deployment
    assert _body(firing) == {
        "id": f"{alert_id}-firing",
        "alertId": alert_id,
        "rule": "busy",
        "severity": "critical",
        "state": "firing",
        "metric": "activeUsers.current",
        "message": "activeUsers.current is 3, above 2",
        "value": 3,
        "threshold": 2,
        "at": "2026-11-27T10:00:00.000Z",
        "firedAt": "2026-11-27T10:00:00.000Z",
        "snapshotId": fired_in,
        "deployment": deployment,
        "instance": holder,
    }
    assert _body(resolved) == {
        **_body(firing),
        "id": f"{alert_id}-resolved",
        "state": "resolved",
        "value": 0,
        "at": "2026-11-27T10:10:00.000Z",
        "snapshotId": resolved_in,
    }
    assert [_body(post) for post in chat.received] == [
        {
            "text": ":rotating_light: *Firing* (critical) `busy`: activeUsers.current is 3, above 2 "
            f"(value 3, threshold 2, at 2026-11-27T10:00:00.000Z, snapshot {fired_in})"
        },
        {
            "text": ":white_check_mark: *Resolved* `busy`: activeUsers.current is 3, above 2 "
            f"(value 0, threshold 2, at 2026-11-27T10:10:00.000Z, snapshot {resolved_in})"
        },
    ]
    assert "x-metrics-signature" not in chat.received[0].headers  # no secret_env: unsigned


def test_a_rule_goes_only_to_the_webhooks_it_names(settings: Settings) -> None:
    clock = Clock(T0)
    with receiving() as ops, receiving() as team:
        hooks = (Webhook("ops", "json", ops.url, SECRET), Webhook("team", "json", team.url, SECRET))
        with _app(settings, clock, hooks, rules=(replace(BUSY, notify=("team",)),)) as client:
            _busy_at(client, T0)
            refresh(client)
            team.wait_for(1)
        assert len(team.received) == 1 and ops.received == []


def test_only_the_computing_instance_delivers(settings: Settings) -> None:
    clock = Clock(T0)
    with receiving() as ops:
        hooks = (Webhook("ops", "json", ops.url, SECRET),)
        with _app(settings, clock, hooks) as first, _app(settings, clock, hooks) as second:
            _busy_at(first, T0)
            assert second.portal.call(loop_of(second).refresh) is None  # it does not hold the lease
            refresh(first)
            assert second.portal.call(loop_of(second).refresh) is None
            ops.wait_for(1)
            clock.now = T0 + timedelta(minutes=10)
            assert second.portal.call(loop_of(second).refresh) is None
            refresh(first)
            ops.wait_for(2)
            computing = loop_of(first).leadership.holder
        assert [(_body(post)["state"], _body(post)["instance"]) for post in ops.received] == [
            ("firing", computing),
            ("resolved", computing),
        ]


def test_silences_hold_back_delivery_within_their_window_only(settings: Settings) -> None:
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    clock = Clock(T0)
    with receiving() as ops:
        hooks = (Webhook("ops", "json", ops.url, SECRET),)
        with _app(settings, clock, hooks, silences=(Silence("busy", start, end),)) as client:

            def fire(at: datetime) -> None:
                clock.now = at
                _busy_at(client, at)
                refresh(client)

            def resolve(at: datetime) -> None:  # nobody active within 5 minutes of `at`
                clock.now = at
                refresh(client)

            fire(T0)  # before the window: delivered
            resolve(start + timedelta(minutes=10))  # inside it: delivered, as its firing was
            fire(start)  # at its very start: held back
            resolve(start + timedelta(minutes=40))  # its resolution: held back too
            fire(end - timedelta(minutes=5))  # inside, just before the end: held back
            resolve(end + timedelta(minutes=1))  # ... after the end: held back too
            fire(end)  # at the end (not in the window): delivered
            listing = client.get("/api/v1/alerts").json()
        # The app drained its queue on the way out: what was held back never comes.
        assert [(_body(p)["state"], _body(p)["at"]) for p in ops.received] == [
            ("firing", "2026-11-27T10:00:00.000Z"),
            ("resolved", "2026-11-27T11:10:00.000Z"),
            ("firing", "2026-11-27T12:00:00.000Z"),
        ]
    # Still evaluated and shown, marked silenced.
    assert [(a["firedAt"], a["state"], a["silenced"]) for a in listing["recent"]] == [
        ("2026-11-27T12:00:00.000Z", "firing", False),
        ("2026-11-27T11:55:00.000Z", "resolved", True),
        ("2026-11-27T11:00:00.000Z", "resolved", True),
        ("2026-11-27T10:00:00.000Z", "resolved", False),
    ]


def test_a_silence_starts_at_its_from_and_ends_before_its_to(settings: Settings) -> None:
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    silence = Silence("busy", start, end)
    assert silence.covers("busy", start) and not silence.covers("busy", end)
    assert not silence.covers("busy", start - timedelta(microseconds=1))
    assert silence.covers("busy", end - timedelta(microseconds=1)) and not silence.covers("other", start)


@pytest.mark.parametrize("receiver_state", ["hanging", "refusing connections"])
def test_a_stuck_receiver_never_holds_up_the_snapshots(settings: Settings, receiver_state: str) -> None:
    clock = Clock(T0)
    patient = DeliveryPolicy(attempts=1000, first_backoff=0.01, max_backoff=0.05, timeout=60.0, drain_timeout=0.1)
    with receiving() as stuck, receiving() as healthy:
        if receiver_state == "hanging":
            stuck.hang = True
            url = stuck.url
        else:
            with socket.socket() as sock:  # a port nobody listens on
                sock.bind(("127.0.0.1", 0))
                url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
        hooks = (Webhook("stuck", "json", url, SECRET), Webhook("healthy", "json", healthy.url, SECRET))
        # The interval loop runs (settings' short interval): snapshots come on their own.
        with _app(settings, clock, hooks, policy=patient, interval=settings.interval) as client:

            def snapshot_id() -> int:
                return int(client.get("/api/v1/analytics/realtime-metrics").json()["snapshotId"])

            _busy_at(client, T0)
            healthy.wait_for(1)  # fired on a tick
            if receiver_state == "hanging":
                stuck.wait_for(1)
                assert stuck.in_progress == 1
            clock.now = T0 + timedelta(minutes=10)
            healthy.wait_for(2)  # resolved on a later tick, delivered beside the stuck webhook
            after_resolution = snapshot_id()
            wait_until(lambda: snapshot_id() >= after_resolution + 5, 30, "five more snapshots are published")
            if receiver_state == "hanging":
                assert (len(stuck.received), stuck.in_progress) == (1, 1)  # the firing, still unanswered
                assert _sample(client, 'metrics_alert_webhook_queue{webhook="stuck"} ') == 1  # the resolution
            else:
                assert _count(client, "stuck", "retried") >= 1 and _count(client, "stuck", "delivered") == 0
            assert _count(client, "healthy", "delivered") == 2
        if receiver_state == "hanging":
            assert [_body(post)["state"] for post in stuck.received] == ["firing"]


# -- the delivery itself -------------------------------------------------------------------------


def _alert(alert_id: int, state: str = "firing") -> dict[str, Any]:
    return {
        "id": alert_id,
        "rule": "busy",
        "state": state,
        "severity": "critical",
        "metric": "activeUsers.current",
        "message": "activeUsers.current is 3, above 2",
        "value": Decimal(3),
        "threshold": Decimal(2),
        "firedAt": "2026-11-27T10:00:00.000Z",
        "resolvedAt": None,
        "snapshotId": alert_id,
        "silenced": False,
    }


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 15
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


class _Recorded:
    """What a delivery counts, sleeps and draws for jitter."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.sleeps: list[float] = []
        self.jitter_ranges: list[tuple[float, float]] = []

    def count(self, webhook: str, outcome: Outcome) -> None:
        self.counts[(webhook, outcome)] += 1

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def jitter(self, low: float, high: float) -> float:
        self.jitter_ranges.append((low, high))
        return high


async def test_5xx_are_retried_with_backoff_then_delivered_and_the_failure_is_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorded = _Recorded()
    policy = DeliveryPolicy(attempts=5, first_backoff=0.01, max_backoff=0.03)
    with receiving("/services/T000/B000/secretpart") as receiver, caplog.at_level(logging.INFO):
        receiver.statuses = [500, 500, 500]
        delivery = WebhookDelivery(
            (Webhook("ops", "json", receiver.url, SECRET),),
            policy,
            count=recorded.count,
            sleep=recorded.sleep,
            jitter=recorded.jitter,
        )
        task = asyncio.create_task(delivery.run())
        try:
            delivery.offer(_alert(7), BUSY)
            await _until(lambda: recorded.counts[("ops", "delivered")] == 1, "delivered after the 500s")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    posts = receiver.received
    assert len(posts) == 4 and len({post.body for post in posts}) == 1  # the same body every time
    assert all(verified(post) for post in posts)  # each attempt signed (with its own timestamp)
    assert _body(posts[0])["id"] == "7-firing"
    assert recorded.counts == Counter({("ops", "retried"): 3, ("ops", "delivered"): 1})
    # Exponential, capped at max_backoff, drawn between half and all of it.
    assert recorded.jitter_ranges == [(0.005, 0.01), (0.01, 0.02), (0.015, 0.03)]
    assert recorded.sleeps == [0.01, 0.02, 0.03]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "server.alerts.webhooks"]
    assert [level for level, _ in said] == ["ERROR", "INFO"]  # failing once, working again once
    assert "alert webhook 'ops' failed: HTTP 500" in said[0][1]
    assert "alert webhook 'ops' works again after 3 failures" in said[1][1]
    assert not any("secretpart" in record.getMessage() or SECRET in record.getMessage() for record in caplog.records)


async def test_a_429_waits_as_long_as_retry_after_asks_within_the_cap() -> None:
    recorded = _Recorded()
    with receiving() as receiver:
        receiver.statuses = [429]
        delivery = WebhookDelivery(
            (Webhook("ops", "json", receiver.url, SECRET),),
            DeliveryPolicy(first_backoff=0.01, max_backoff=0.5),
            count=recorded.count,
            sleep=recorded.sleep,
            jitter=recorded.jitter,
        )
        receiver.extra_headers = {"Retry-After": "30"}
        task = asyncio.create_task(delivery.run())
        try:
            delivery.offer(_alert(1), BUSY)
            await _until(lambda: recorded.counts[("ops", "delivered")] == 1, "delivered after the 429")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert recorded.sleeps == [0.5]  # Retry-After: 30, capped at max_backoff


@pytest.mark.parametrize(("statuses", "posts"), [([404], 1), ([400], 1), ([503] * 10, 3), ([308], 1)])
async def test_other_answers_are_final_and_attempts_are_bounded(statuses: list[int], posts: int) -> None:
    recorded = _Recorded()
    with receiving() as receiver:
        receiver.statuses = list(statuses)
        delivery = WebhookDelivery(
            (Webhook("ops", "json", receiver.url, SECRET),),
            DeliveryPolicy(attempts=3, first_backoff=0.001, max_backoff=0.001),
            count=recorded.count,
            sleep=recorded.sleep,
        )
        task = asyncio.create_task(delivery.run())
        try:
            delivery.offer(_alert(1), BUSY)
            await _until(lambda: recorded.counts[("ops", "failed")] == 1, "given up")
            await delivery.drain()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert len(receiver.received) == posts
    assert recorded.counts == Counter({("ops", "failed"): 1, **({("ops", "retried"): posts - 1} if posts > 1 else {})})


async def test_a_dead_receiver_is_retried_and_its_url_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    recorded = _Recorded()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/services/T000/B000/secretpart?token=abc"
    delivery = WebhookDelivery(
        (Webhook("chat", "slack", url),),
        DeliveryPolicy(attempts=3, first_backoff=0.001, max_backoff=0.001),
        count=recorded.count,
        sleep=recorded.sleep,
    )
    with caplog.at_level(logging.INFO):
        task = asyncio.create_task(delivery.run())
        try:
            delivery.offer(_alert(1), BUSY)
            delivery.offer(_alert(2), BUSY)
            await _until(lambda: recorded.counts[("chat", "failed")] == 2, "both given up")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert recorded.counts == Counter({("chat", "failed"): 2, ("chat", "retried"): 4})
    said = [r.getMessage() for r in caplog.records if r.name == "server.alerts.webhooks"]
    assert len(said) == 1 and said[0].startswith("alert webhook 'chat' failed: ConnectError")  # 6 attempts, 1 line
    assert not any("secretpart" in r.getMessage() or "token=abc" in r.getMessage() for r in caplog.records)


async def test_a_full_queue_drops_its_oldest_delivery_and_counts_it() -> None:
    recorded = _Recorded()
    with receiving() as receiver:
        receiver.hang = True
        delivery = WebhookDelivery(
            (Webhook("ops", "json", receiver.url, SECRET),),
            DeliveryPolicy(queue_size=3, timeout=30.0),
            count=recorded.count,
        )
        task = asyncio.create_task(delivery.run())
        try:
            delivery.offer(_alert(1), BUSY)
            await _until(lambda: receiver.in_progress == 1, "the first is being posted")
            for alert_id in range(2, 7):
                delivery.offer(_alert(alert_id), BUSY)
            assert delivery.depth("ops") == 3
            assert recorded.counts == Counter({("ops", "dropped"): 2})
            receiver.release()
            await _until(lambda: recorded.counts[("ops", "delivered")] == 4, "the rest delivered")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert [_body(post)["alertId"] for post in receiver.received] == [1, 4, 5, 6]  # 2 and 3 were the oldest
    assert delivery.depth("ops") == 0


async def test_what_is_still_queued_at_shutdown_is_counted_dropped() -> None:
    recorded = _Recorded()
    with receiving() as receiver:
        receiver.hang = True
        delivery = WebhookDelivery(
            (Webhook("ops", "json", receiver.url, SECRET),),
            DeliveryPolicy(timeout=30.0, drain_timeout=0.05),
            count=recorded.count,
        )
        task = asyncio.create_task(delivery.run())
        delivery.offer(_alert(1), BUSY)
        await _until(lambda: receiver.in_progress == 1, "the first is being posted")
        delivery.offer(_alert(2), BUSY)
        await delivery.drain()  # gives up after drain_timeout
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # Both: the one being posted and the one waiting; neither was delivered nor given up on.
    assert recorded.counts == Counter({("ops", "dropped"): 2})
