"""The hub: what it leaves in the backend, and delivery in snapshotId order."""

from __future__ import annotations

import redis
from starlette.testclient import TestClient

from server.backends.memory import MemoryBackend
from server.hub import Outbox, SnapshotHub
from server.snapshot import Snapshot
from tests.helpers import refresh, service_of


def test_each_snapshot_is_cached_with_the_10_s_ttl_and_kept_in_history(client: TestClient, stack: str) -> None:
    body = refresh(client)
    service = service_of(client)
    hub = service.hub
    assert hub.cache_key.startswith(service.settings.redis_prefix)  # then this database's deployment id
    cached = client.portal.call(service.backend.get_snapshot, hub.cache_key)
    assert cached == client.get("/api/v1/analytics/realtime-metrics").content
    history = client.portal.call(service.backend.history, hub.history_key)
    assert Snapshot.from_encoded(history[-1]).id == body["snapshotId"]
    if stack == "postgres-redis":
        ttl_ms = redis.Redis.from_url(service.settings.redis_url).pttl(hub.cache_key)
        assert 0 < ttl_ms <= 10_000


def _snapshot(snapshot_id: int) -> Snapshot:
    return Snapshot.from_data({"snapshotId": snapshot_id})


async def test_snapshots_are_delivered_once_and_in_id_order() -> None:
    hub = SnapshotHub(MemoryBackend(), "p:", history_size=20, cache_ttl=10)
    outbox = Outbox(max_replies=4)
    hub.attach(outbox)
    await hub.publish(_snapshot(2))
    assert await outbox.next() == '{"type":"metrics","data":{"snapshotId":2}}'
    await hub.publish(_snapshot(2))  # the same snapshot relayed again (e.g. back from Redis)
    await hub.publish(_snapshot(1))  # an older one arriving late
    await hub.publish(_snapshot(3))
    assert await outbox.next() == '{"type":"metrics","data":{"snapshotId":3}}'
    assert outbox.skipped == 0
    assert hub.history_frame() == '{"type":"history","data":[{"snapshotId":2},{"snapshotId":3}]}'
