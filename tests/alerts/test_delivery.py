"""WebhookDelivery against a receiver of the tests' own: retries with backoff after 5xx, final
answers, bounded attempts, a bounded queue that drops its oldest, failures logged once without the
URL, and what is left at shutdown counted."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from server.alerts.delivery import DeliveryPolicy, Outcome, WebhookDelivery
from server.alerts.rules import Rule
from server.alerts.webhooks import Webhook
from tests.support.webhook_receiver import SECRET, body_of, receiving, verified

BUSY = Rule("busy", "activeUsers.current", "above", Decimal(2), Decimal(1), severity="critical")


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
    assert body_of(posts[0])["id"] == "7-firing"
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
    assert [body_of(post)["alertId"] for post in receiver.received] == [1, 4, 5, 6]  # 2 and 3 were the oldest
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
