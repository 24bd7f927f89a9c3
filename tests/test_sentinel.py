"""Redis behind Sentinel: with `REDIS_URL=redis+sentinel://...`, two sidecars (on one SQLite file)
cache and relay their snapshots through the primary the sentinels name, and after the primary is
killed they do so through the replica the sentinels promote, by themselves."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.settings import Settings
from tests.support.faults import OwnRedis, own_sentinel_group
from tests.support.live import prometheus_value, serve, wait_until

INTERVAL = 1.0
CHANNEL = 'metrics_snapshots_received_total{via="channel"}'

needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None and not os.environ.get("CI"),
    reason="redis-server is not installed (the Sentinel test starts its own primary, replica and sentinels)",
)


class SocketLog:
    """Every snapshot a WebSocket receives, read on a thread of its own until it closes: (snapshotId, stale)."""

    def __init__(self, socket: ClientConnection) -> None:
        self.received: list[tuple[int, bool]] = []
        self._socket = socket
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            for message in self._socket:
                update = json.loads(message)
                if update["type"] == "metrics":
                    self.received.append((update["data"]["snapshotId"], update["data"]["stale"]))


def _cached_snapshot_id(server: OwnRedis, prefix: str) -> int:
    """The id of the snapshot cached on `server` (the key is the prefix, the deployment id, `snapshot`)."""
    client = server.client()
    (key,) = client.keys(prefix + "*:snapshot")
    return int(json.loads(client.get(key))["snapshotId"])


@needs_redis_server
def test_after_a_failover_snapshots_are_cached_and_relayed_through_the_new_primary(tmp_path: Path) -> None:
    with own_sentinel_group(count=3) as group:
        prefix = f"test-sentinel-{uuid.uuid4().hex[:8]}:"
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'metrics.db'}",
            redis_url=group.url,
            redis_prefix=prefix,
            interval=INTERVAL,
            embedded=False,
        )
        # The first sidecar takes the lease and computes; the second follows through the Redis channel.
        with serve(settings) as leader, serve(settings) as follower, connect(f"ws://{follower}/ws/metrics") as ws:
            assert prometheus_value(leader, "metrics_leader") == 1
            assert prometheus_value(follower, "metrics_leader") == 0
            health = lambda address: httpx.get(f"http://{address}/health").json()  # noqa: E731
            wait_until(lambda: prometheus_value(follower, CHANNEL) >= 2, 10, "snapshots come through the channel")
            assert health(leader)["cache"] == "ok" and health(follower)["cache"] == "ok"
            socket = SocketLog(ws)
            wait_until(lambda: len(socket.received) > 0, 5, "the socket's first snapshot")
            old_primary, new_primary = group.primary, group.replica
            cached_id = lambda server: _cached_snapshot_id(server, prefix)  # noqa: E731
            assert cached_id(old_primary) >= socket.received[0][0]

            old_primary.kill()
            wait_until(lambda: group.primary_port() == new_primary.port, 15, "the sentinels promote the replica")
            assert new_primary.client().info("replication")["role"] == "master"
            promoted_with = cached_id(new_primary)  # as replicated before the kill

            # Through the new primary again: the leader caches each snapshot there, and the
            # follower hears them on the channel.
            wait_until(lambda: cached_id(new_primary) > promoted_with, 10, "the cache written on the new primary")
            heard = prometheus_value(follower, CHANNEL)
            wait_until(lambda: prometheus_value(follower, CHANNEL) >= heard + 3, 10, "the channel again")
            last = cached_id(new_primary)
            for address in (leader, follower):
                wait_until(lambda a=address: health(a)["cache"] == "ok", 10, f"{address} says cache ok")
                assert health(address)["status"] == "ok"

            # The follower's socket was pushed every snapshot through it all, fresh and in order.
            wait_until(lambda: socket.received[-1][0] >= last, 5, "the socket caught up")
            ids = [snapshot_id for snapshot_id, _ in socket.received]
            assert ids == list(range(ids[0], ids[-1] + 1))
            assert [stale for _, stale in socket.received] == [False] * len(ids)
            # The lease is the database's: losing the Redis primary moved nothing.
            assert prometheus_value(leader, "metrics_leader") == 1
            assert prometheus_value(follower, "metrics_leader") == 0
