"""Alert webhooks through the app, against a receiver of the tests' own (a real HTTP server on a
spare port): one signed post per transition and webhook, a single delivering instance, silences,
and a hanging or dead receiver that never holds up the snapshots."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from server.alerts.delivery import DeliveryPolicy
from server.alerts.rules import Rule
from server.alerts.silences import Silence
from server.alerts.webhooks import Webhook
from server.app import create_app
from server.settings import Settings
from tests.support.helpers import LocalClient, loop_of, refresh
from tests.support.live import wait_until
from tests.support.webhook_receiver import SECRET, body_of, receiving, verified

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
BUSY = Rule("busy", "activeUsers.current", "above", Decimal(2), Decimal(1), severity="critical")
FAST = DeliveryPolicy(first_backoff=0.01, max_backoff=0.05, timeout=5.0, drain_timeout=2.0)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


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
    deployment = body_of(firing)["deployment"]
    assert isinstance(deployment, str) and deployment
    assert body_of(firing) == {
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
    assert body_of(resolved) == {
        **body_of(firing),
        "id": f"{alert_id}-resolved",
        "state": "resolved",
        "value": 0,
        "at": "2026-11-27T10:10:00.000Z",
        "snapshotId": resolved_in,
    }
    assert [body_of(post) for post in chat.received] == [
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
        assert [(body_of(post)["state"], body_of(post)["instance"]) for post in ops.received] == [
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
        assert [(body_of(p)["state"], body_of(p)["at"]) for p in ops.received] == [
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
            assert [body_of(post)["state"] for post in stuck.received] == ["firing"]
