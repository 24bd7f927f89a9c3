"""The hub: what it leaves in the backend, and delivery in snapshotId order."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import redis
from starlette.testclient import TestClient

from server.backends.memory import MemoryBackend
from server.hub import Outbox, SnapshotHub
from server.snapshot import Snapshot
from tests.support.helpers import refresh, service_of


def test_each_snapshot_is_cached_with_the_10_s_ttl_and_kept_in_history(client: TestClient, stack: str) -> None:
    body = refresh(client)
    service = service_of(client)
    hub = service.hub
    assert hub.cache_key.startswith(service.settings.redis_prefix)  # then this database's deployment id
    # Sent in the background: the REST answer and the cache agree once the sender has had its turn.
    deadline = time.monotonic() + 5
    while (cached := client.portal.call(service.backend.get_snapshot, hub.cache_key)) != (
        current := client.get("/api/v1/analytics/realtime-metrics").content
    ):
        assert time.monotonic() < deadline, (cached, current)
        time.sleep(0.02)
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


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fresh_hub(clock: FakeTime, interval: float = 5.0) -> SnapshotHub:
    return SnapshotHub(MemoryBackend(), "p:", history_size=20, cache_ttl=10, interval=interval, monotonic=clock)


def _data(snapshot_id: int) -> Snapshot:
    return Snapshot.from_data({"revenue": {"total": Decimal("12.50")}, "snapshotId": snapshot_id, "stale": False})


async def test_a_snapshot_older_than_two_intervals_is_served_stale_with_its_own_id_and_numbers() -> None:
    clock = FakeTime()
    hub = _fresh_hub(clock)
    outbox = Outbox(max_replies=4)
    hub.attach(outbox)
    await hub.publish(_data(7))
    assert await outbox.next() == '{"type":"metrics","data":{"revenue":{"total":12.50},"snapshotId":7,"stale":false}}'
    clock.now += 10.0  # exactly two intervals: still fresh
    hub.tick()
    assert hub.stale_reason() is None and hub.current() is hub.latest
    clock.now += 0.1
    assert hub.stale_reason() == "the latest snapshot is 10 s old: none was computed for 2 intervals"
    current = hub.current()
    assert current is not None and current.encoded == b'{"revenue":{"total":12.50},"snapshotId":7,"stale":true}'
    hub.tick()  # pushed once when it turns stale...
    stale_frame = '{"type":"metrics","data":{"revenue":{"total":12.50},"snapshotId":7,"stale":true}}'
    assert await outbox.next() == stale_frame
    clock.now += 1.0
    hub.tick()  # ...not again within the same interval...
    assert outbox.skipped == 0 and not outbox._snapshot
    clock.now += 4.0
    hub.tick()  # ...then once an interval, the same bytes each time
    assert await outbox.next() == stale_frame
    assert hub.history_frame().endswith('"snapshotId":7,"stale":true}]}')  # history ends with what is served
    await hub.publish(_data(8))  # a fresh one ends it
    assert hub.stale_reason() is None
    assert await outbox.next() == '{"type":"metrics","data":{"revenue":{"total":12.50},"snapshotId":8,"stale":false}}'


async def test_a_failed_refresh_marks_the_snapshot_stale_at_once_on_every_instance() -> None:
    backend = MemoryBackend()
    computing, relaying = FakeTime(), FakeTime()
    leader = SnapshotHub(backend, "p:", history_size=20, cache_ttl=10, interval=5, monotonic=computing)
    follower = SnapshotHub(backend, "p:", history_size=20, cache_ttl=10, interval=5, monotonic=relaying)
    outbox = Outbox(max_replies=4)
    follower.attach(outbox)
    listening = asyncio.create_task(follower.listen(silence=60))
    try:
        await asyncio.sleep(0.05)
        await leader.publish(_data(3))
        assert (await asyncio.wait_for(outbox.next(), 2)).endswith('"snapshotId":3,"stale":false}}')
        await leader.publish_failure()
        assert leader.stale_reason() == "the latest refresh from the database failed"
        relayed = await asyncio.wait_for(outbox.next(), 2)
        assert relayed == '{"type":"metrics","data":{"revenue":{"total":12.50},"snapshotId":3,"stale":true}}'
        assert follower.stale_reason() == "the latest refresh from the database failed"
        await leader.publish(_data(4))
        assert (await asyncio.wait_for(outbox.next(), 2)).endswith('"snapshotId":4,"stale":false}}')
        assert follower.stale_reason() is None
    finally:
        listening.cancel()


def test_snapshots_read_back_from_storage_are_as_old_as_their_timestamp() -> None:
    clock = FakeTime()
    now = datetime(2026, 12, 4, 10, 0, 30, tzinfo=UTC)
    hub = SnapshotHub(
        MemoryBackend(), "p:", history_size=20, cache_ttl=10, interval=5, monotonic=clock, clock=lambda: now
    )
    hub.prefill([Snapshot.from_data({"timestamp": "2026-12-04T10:00:00.000Z", "snapshotId": 1, "stale": False})])
    assert hub.age() == 30.0
    assert hub.stale_reason() == "the latest snapshot is 30 s old: none was computed for 6 intervals"
    current = hub.current()
    assert current is not None and current.id == 1 and current.data["stale"] is True


class HangingBackend(MemoryBackend):
    """A Redis that accepts the connection and then never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def set_snapshot(self, key: str, payload: bytes, ttl: float) -> None:
        self.calls += 1
        await asyncio.Event().wait()


async def test_a_backend_that_hangs_never_holds_up_publishing_or_local_pushes() -> None:
    backend = HangingBackend()
    hub = SnapshotHub(backend, "p:", history_size=20, cache_ttl=10, interval=5)
    outbox = Outbox(max_replies=4)
    hub.attach(outbox)
    try:
        for snapshot_id in (1, 2, 3):
            await asyncio.wait_for(hub.publish(_data(snapshot_id)), timeout=0.5)
            assert (await asyncio.wait_for(outbox.next(), 1)).endswith(f'"snapshotId":{snapshot_id},"stale":false}}}}')
        await asyncio.sleep(0.05)
        assert backend.calls == 1  # the sender is stuck on the first; the newest waits, nothing piles up
        assert hub._outgoing is not None and hub._outgoing.id == 3
    finally:
        await hub.close()
