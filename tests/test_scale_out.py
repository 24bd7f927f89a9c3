"""Three sidecars on one PostgreSQL and one Redis behind a load balancer: one computes, all push
the same snapshots, the database is read once per interval, and when the computing one is killed
another takes over within two intervals while its clients reconnect elsewhere."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from metrics_client import ConnectionState, MetricsClient
from server.storage.db import create_engine
from tests.conftest import REDIS_URL, _reset_postgres
from tests.support.balancer import Balancer
from tests.support.cluster import Instance, Watcher, healthy, start_instance, until

ROOT = Path(__file__).parents[1]
INTERVAL = 2.0


@pytest.fixture
def shared_database(services_problem: str | None, request: pytest.FixtureRequest) -> str:
    if services_problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the scale-out test: {services_problem}")
        pytest.skip(services_problem)
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_reset_postgres(url))
    return url


async def _logged_ids(url: str, first: int, last: int) -> list[int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = text("SELECT snapshot_id FROM snapshot_log WHERE snapshot_id BETWEEN :a AND :b ORDER BY 1")
            return list((await conn.execute(query, {"a": first, "b": last})).scalars())
    finally:
        await engine.dispose()


async def _tally(instances: list[Instance], watcher: Watcher, url: str) -> tuple[int, int]:
    """(snapshots the instances computed in all, the newest id in the log), read between two
    snapshots: just after one has arrived, so that no computation is half-way (logged, not counted)."""
    watcher.arrived.clear()
    await asyncio.wait_for(watcher.arrived.wait(), timeout=5 * INTERVAL)
    await asyncio.sleep(INTERVAL / 4)
    computed = sum([await asyncio.to_thread(lambda i=i: i.computed) for i in instances])
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            newest = (await conn.execute(text("SELECT max(snapshot_id) FROM snapshot_log"))).scalar_one()
    finally:
        await engine.dispose()
    return computed, int(newest)


@pytest.fixture
async def cluster(shared_database: str) -> AsyncIterator[tuple[list[Instance], Balancer]]:
    prefix = f"test-scale-{uuid.uuid4().hex[:8]}:"
    instances = [start_instance(shared_database, REDIS_URL, prefix, INTERVAL) for _ in range(3)]
    balancer = Balancer([instance.port for instance in instances])
    await balancer.start()
    try:
        for instance in instances:
            await until(lambda i=instance: healthy(i.port), 60, f"the instance on {instance.port} is healthy")
        yield instances, balancer
    finally:
        await balancer.stop()
        for instance in instances:
            if instance.process.poll() is None:
                instance.process.terminate()
        for instance in instances:
            instance.process.wait(timeout=30)


async def test_three_instances_one_computation_same_snapshots_and_failover(
    cluster: tuple[list[Instance], Balancer], shared_database: str
) -> None:
    instances, balancer = cluster
    watchers = [Watcher(instance.port) for instance in instances]
    reconnects: list[tuple[float, int]] = []  # (when a balanced client came back, newest id then)
    firsts: list[tuple[float, int]] = []  # (when, id) of the first snapshot after each connect
    tasks = [asyncio.create_task(w.run()) for w in watchers]

    async def balanced_client(name: int) -> None:
        fresh = True

        def on_state(state: ConnectionState) -> None:
            nonlocal fresh
            if state.status == "live":
                fresh = True
                newest = max((i for w in watchers for i in w.ids()), default=0)
                reconnects.append((time.monotonic(), newest))

        client = MetricsClient(
            f"ws://127.0.0.1:{balancer.port}/ws/metrics", backoff=(0.2, 0.5, 1, 1, 1), on_state=on_state
        )
        async for snapshot in client.snapshots():
            if fresh:
                firsts.append((time.monotonic(), snapshot["snapshotId"]))
                fresh = False

    tasks += [asyncio.create_task(balanced_client(n)) for n in range(6)]
    try:
        # Steady state: exactly one instance computes; every instance pushes the same bytes.
        await asyncio.sleep(4 * INTERVAL)
        [leader] = [i for i in instances if await asyncio.to_thread(lambda i=i: i.leads)]
        computed_before, logged_before = await _tally(instances, watchers[0], shared_database)
        window_start = time.monotonic()
        event = {"type": "transaction", "id": "t-1", "userId": "u-1", "amount": "12.34", "status": "completed"}
        follower = next(i for i in instances if i is not leader)
        async with httpx.AsyncClient() as http:
            response = await http.post(f"http://127.0.0.1:{follower.port}/api/v1/events", json=event)
        assert response.status_code == 200
        await asyncio.sleep(4 * INTERVAL)
        computed_after, logged_after = await _tally(instances, watchers[0], shared_database)

        seen = [w.ids(window_start) for w in watchers]
        common = sorted(set(seen[0]) & set(seen[1]) & set(seen[2]))
        assert len(common) >= 3, seen
        assert common == list(range(common[0], common[-1] + 1)), "pushes skip or repeat ids"
        for snapshot_id in common:
            frames = {raw for w in watchers for _, i, raw in w.frames if i == snapshot_id}
            assert len(frames) == 1, f"instances pushed different bytes for snapshot {snapshot_id}"
        last_frame = next(raw for _, i, raw in watchers[0].frames if i == common[-1])
        assert json.loads(last_frame)["data"]["revenue"]["total"] == 12.34  # ingested on a follower
        # One computation per snapshot, whatever the number of instances: the log has one row
        # per id, and the instances together computed exactly as many snapshots as were logged.
        assert await _logged_ids(shared_database, common[0], common[-1]) == common
        assert computed_after - computed_before == logged_after - logged_before > 0

        # Kill the computing instance.
        survivors = [w for w, i in zip(watchers, instances, strict=True) if i is not leader]
        last_before = max(i for w in survivors for i in w.ids())
        killed_at = time.monotonic()
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=10)
        await asyncio.sleep(4 * INTERVAL)

        first_new = min(t for w in survivors for t, i, _ in w.frames if i > last_before)
        assert first_new - killed_at <= 2 * INTERVAL + 0.5, f"takeover after {first_new - killed_at:.2f} s"
        for watcher in survivors:
            after = [i for i in watcher.fresh_ids() if i >= last_before]
            assert after == list(range(last_before, last_before + len(after))), after
        [new_leader] = [i for i in instances if i is not leader and await asyncio.to_thread(lambda i=i: i.leads)]
        assert new_leader.computed > 0

        # The dead instance's two clients came back through the balancer, to the others, and each
        # got the current snapshot at once (not an older one).
        late = [(t, newest) for t, newest in reconnects if t > killed_at]
        assert len(late) == 2, reconnects
        for when, newest_then in late:
            first_id = next(i for t, i in firsts if t >= when)
            assert first_id >= newest_then
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
