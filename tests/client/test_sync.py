"""`MetricsClient.iter_snapshots()`: the live snapshots for a script without asyncio."""

from __future__ import annotations

import threading

import pytest

from metrics_client import GaveUp, MetricsClient
from server.settings import Settings
from tests.support.faults import free_port
from tests.support.live import serve


def _sync_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "metrics-client-sync"]


def test_iter_snapshots_yields_in_id_order_and_stops_its_thread_on_break(settings: Settings) -> None:
    with serve(settings) as address:
        ids: list[int] = []
        for snapshot in MetricsClient(f"ws://{address}/ws/metrics").iter_snapshots():
            if ids and snapshot["snapshotId"] == ids[-1]:
                assert snapshot["stale"] is True  # the only way an id repeats
                continue
            ids.append(snapshot["snapshotId"])
            if len(ids) == 5:
                break
        assert _sync_threads() == []
    assert ids == list(range(ids[0], ids[0] + 5))


def test_iter_snapshots_raises_gave_up_in_the_callers_thread() -> None:
    client = MetricsClient(f"ws://127.0.0.1:{free_port()}/ws/metrics", backoff=(0.01, 0.01))
    with pytest.raises(GaveUp, match="connection refused"):
        for _ in client.iter_snapshots():
            pass
    assert _sync_threads() == []


def test_iter_snapshots_refuses_an_empty_buffer() -> None:
    with pytest.raises(ValueError, match="buffer must be at least 1, got 0"):
        next(MetricsClient("ws://127.0.0.1:1/ws/metrics").iter_snapshots(buffer=0))
