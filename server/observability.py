"""Prometheus figures about the sidecar itself, in a registry of its own per app (no globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class SidecarMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sockets = Gauge("metrics_ws_connections", "Open WebSocket connections", registry=self.registry)
        self.socket_closes = Counter(
            "metrics_ws_closes", "WebSocket connections ended, by reason", ["reason"], registry=self.registry
        )
        self.pushes = Counter("metrics_ws_pushes", "Snapshots written to sockets", registry=self.registry)
        self.skipped = Counter(
            "metrics_ws_skipped", "Snapshots a slow client skipped (a newer one replaced them)", registry=self.registry
        )
        self.snapshots = Counter(
            "metrics_snapshots", "Snapshots computed, by outcome", ["outcome"], registry=self.registry
        )
        self.compute_seconds = Histogram(
            "metrics_snapshot_compute_seconds",
            "Time to compute one snapshot",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.leader = Gauge(
            "metrics_leader", "1 while this instance holds the lease and computes the snapshots", registry=self.registry
        )
        self.ingest_requests = Counter(
            "metrics_ingest_requests", "Ingest requests, by outcome", ["outcome"], registry=self.registry
        )
        self.ingest_events = Counter(
            "metrics_ingest_events", "Ingested events, by result", ["result"], registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
