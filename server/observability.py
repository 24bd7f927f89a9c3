"""Prometheus figures about the sidecar itself, in a registry of its own per app (no globals)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from metrics_client.protocol import ErrorCode, PrometheusName

if TYPE_CHECKING:
    from server.alerts.delivery import Outcome, WebhookDelivery
    from server.hub import SnapshotHub
    from server.leadership import Leadership

SNAPSHOT_OUTCOMES = ("computed", "failed")
SNAPSHOT_SOURCES = ("computed", "channel", "database", "storage")
# "ok" and every error code an ingest request can end with (server.errors, server.access).
INGEST_OUTCOMES = (
    "ok",
    ErrorCode.INVALID_JSON,
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.CONFLICT,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.INCOMPLETE_BODY,
    ErrorCode.UNAVAILABLE,
)
INGEST_RESULTS = ("accepted", "duplicate")
# server.alerts.delivery.OUTCOMES, repeated here so that this module imports no delivery code.
WEBHOOK_OUTCOMES = ("delivered", "failed", "retried", "dropped")
# How a resume ended (server.replay): replayed, or why it became a reset.
RESUME_OUTCOMES = ("replayed", "expired", "too_many", "ahead", "unavailable")
CLOSE_REASONS = ("client", "shutdown", "flooding", "frame_too_big", "stalled", "revoked", "error")


class SidecarMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sockets = Gauge(PrometheusName.WS_CONNECTIONS, "Open WebSocket connections", registry=self.registry)
        self.socket_closes = Counter(
            PrometheusName.WS_CLOSES, "WebSocket connections ended, by reason", ["reason"], registry=self.registry
        )
        self.pushes = Counter(PrometheusName.WS_PUSHES, "Snapshots written to sockets", registry=self.registry)
        self.skipped = Counter(
            PrometheusName.WS_SKIPPED,
            "Snapshots a slow client skipped (a newer one replaced them)",
            registry=self.registry,
        )
        self.resumes = Counter(
            PrometheusName.STREAM_RESUMES,
            "Streams that asked to resume after a snapshotId, by outcome: replayed, or a reset (expired, "
            "too_many, ahead, unavailable)",
            ["outcome"],
            registry=self.registry,
        )
        self.replayed = Counter(
            PrometheusName.STREAM_REPLAYED, "Snapshots replayed to resuming streams", registry=self.registry
        )
        self.event_streams = Gauge(
            PrometheusName.SSE_CONNECTIONS, "Open Server-Sent Events streams", registry=self.registry
        )
        self.events = Counter(
            PrometheusName.SSE_PUSHES, "Snapshots and deltas written to event streams", registry=self.registry
        )
        self.snapshots = Counter(
            PrometheusName.SNAPSHOTS,
            "Snapshot refreshes on this instance, by outcome (computed, or failed: the last one is then stale)",
            ["outcome"],
            registry=self.registry,
        )
        self.snapshots_received = Counter(
            PrometheusName.SNAPSHOTS_RECEIVED,
            "Snapshots this instance took in, by how: computed here, the Redis channel, the database "
            "(the relay was late), storage (at start)",
            ["via"],
            registry=self.registry,
        )
        self.compute_seconds = Histogram(
            PrometheusName.SNAPSHOT_COMPUTE_SECONDS,
            "Time to compute one snapshot",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.leader = Gauge(
            PrometheusName.LEADER,
            "1 while this instance holds the database's snapshot lease and computes the snapshots",
            registry=self.registry,
        )
        self.snapshot_age = Gauge(
            PrometheusName.SNAPSHOT_AGE_SECONDS,
            "Age of the snapshot this instance serves (-1 before the first)",
            registry=self.registry,
        )
        self.snapshot_stale = Gauge(
            PrometheusName.SNAPSHOT_STALE, "1 while the snapshot this instance serves is stale", registry=self.registry
        )
        self.ingest_requests = Counter(
            PrometheusName.INGEST_REQUESTS, "Ingest requests, by outcome", ["outcome"], registry=self.registry
        )
        self.ingest_events = Counter(
            PrometheusName.INGEST_EVENTS, "Ingested events, by result", ["result"], registry=self.registry
        )
        self.webhook_deliveries = Counter(
            PrometheusName.ALERT_WEBHOOK_DELIVERIES,
            "Alert transitions posted to webhooks, by webhook and outcome: delivered, failed (given up), "
            "retried (one per retry), dropped (the queue was full, or the sidecar stopped)",
            ["webhook", "outcome"],
            registry=self.registry,
        )
        self.webhook_queue = Gauge(
            PrometheusName.ALERT_WEBHOOK_QUEUE,
            "Alert transitions waiting to be posted to a webhook",
            ["webhook"],
            registry=self.registry,
        )
        # Every labelled series exists from the start, at 0, so a rate() over it is defined at once.
        for outcome in SNAPSHOT_OUTCOMES:
            self.snapshots.labels(outcome)
        for via in SNAPSHOT_SOURCES:
            self.snapshots_received.labels(via)
        for outcome in INGEST_OUTCOMES:
            self.ingest_requests.labels(outcome)
        for result in INGEST_RESULTS:
            self.ingest_events.labels(result)
        for reason in CLOSE_REASONS:
            self.socket_closes.labels(reason)
        for outcome in RESUME_OUTCOMES:
            self.resumes.labels(outcome)

    def watch(self, hub: SnapshotHub, leadership: Leadership) -> None:
        """Read the live figures from the hub and the lease at each scrape."""
        self.leader.set_function(lambda: 1.0 if leadership.leading else 0.0)
        self.snapshot_age.set_function(lambda: -1.0 if (age := hub.age()) is None else age)
        self.snapshot_stale.set_function(lambda: 0.0 if hub.stale_reason() is None else 1.0)

    def watch_webhooks(self, delivery: WebhookDelivery) -> None:
        """Create each webhook's series at 0 and read its queue's depth at each scrape."""
        for webhook in delivery.webhooks:
            for outcome in WEBHOOK_OUTCOMES:
                self.webhook_deliveries.labels(webhook.name, outcome)
            self.webhook_queue.labels(webhook.name).set_function(functools.partial(delivery.depth, webhook.name))

    def webhook_outcome(self, webhook: str, outcome: Outcome) -> None:
        self.webhook_deliveries.labels(webhook, outcome).inc()

    def received(self, via: str) -> None:
        self.snapshots_received.labels(via).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
