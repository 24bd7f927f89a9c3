"""Many streams resuming at once while snapshots keep coming (in-process; the timing is bench/resume.py)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from server.backends.memory import MemoryBackend
from server.deltas import DeltaCache, DeltaOutbox
from server.hub import Outbox, SnapshotHub
from server.merge_patch import apply_patch
from server.observability import SidecarMetrics
from server.replay import Replayer, start_stream
from server.snapshot import Snapshot

RESUMING = 200
FIRST_LIVE = 101
LAST = 130


def _snapshot(snapshot_id: int) -> Snapshot:
    return Snapshot.from_data(
        {
            "revenue": {"total": Decimal(snapshot_id * 1250) / 100, "today": Decimal("0.50")},
            "activeUsers": {"current": snapshot_id % 7},
            "snapshotId": snapshot_id,
            "stale": False,
        }
    )


async def _receive(outbox: Outbox, last: int, slowly: bool) -> list[dict]:
    """Every frame up to snapshot `last`, decoded; deltas applied (as a client does)."""
    received: list[dict] = []
    held: dict | None = None
    while True:
        frame = await outbox.next()
        assert isinstance(frame, str)
        message = json.loads(frame, parse_float=Decimal)
        if message["type"] == "delta":
            assert held is not None and message["base"] == held["snapshotId"]
            held = apply_patch(held, message["patch"])
        elif message["type"] == "metrics":
            held = message["data"]
        else:
            continue
        received.append(held)
        if held["snapshotId"] == last:
            return received
        if slowly:
            await asyncio.sleep(0)  # a reader slower than the replay: replies wait in its outbox


async def test_two_hundred_streams_resume_while_pushes_go_on_each_gapless_and_the_live_one_misses_none(
    engine: AsyncEngine,
) -> None:
    hub = SnapshotHub(MemoryBackend(), "p:", history_size=20, cache_ttl=10)
    replayer = Replayer(hub, engine, SidecarMetrics())
    deltas = DeltaCache()
    for snapshot_id in range(1, FIRST_LIVE):
        await hub.publish(_snapshot(snapshot_id))
    live = Outbox(4)
    hub.attach(live)
    live_received = asyncio.create_task(_receive(live, LAST, slowly=False))
    outboxes: list[Outbox] = [
        DeltaOutbox(8, deltas) if n % 2 else Outbox(8) for n in range(RESUMING)
    ]  # half whole snapshots, half deltas; small reply queues, so replays wait on their readers
    since = [n % (FIRST_LIVE - 1) for n in range(RESUMING)]
    readers = [asyncio.create_task(_receive(o, LAST, slowly=True)) for o in outboxes]
    starts = [
        asyncio.create_task(start_stream(replayer, o, s, stall_timeout=30))
        for o, s in zip(outboxes, since, strict=True)
    ]

    async def publish_meanwhile() -> None:
        for snapshot_id in range(FIRST_LIVE, LAST + 1):
            await asyncio.sleep(0.001)
            await hub.publish(_snapshot(snapshot_id))

    await asyncio.gather(publish_meanwhile(), *starts)
    results = await asyncio.gather(*readers)
    for start, outbox, received in zip(since, outboxes, results, strict=True):
        ids = [data["snapshotId"] for data in received]
        # Everything computed before it asked is replayed; after that it is a slow live reader, which
        # may skip to the newest (counted), but never gets one twice or out of order.
        assert ids[: FIRST_LIVE - 1 - start] == list(range(start + 1, FIRST_LIVE)), (start, ids)
        assert ids == sorted(set(ids)) and ids[-1] == LAST, (start, ids)
        assert len(ids) + outbox.skipped == LAST - start, (start, ids, outbox.skipped)
        assert all(data == _snapshot(data["snapshotId"]).data for data in received)
    assert [d["snapshotId"] for d in await live_received] == list(range(FIRST_LIVE, LAST + 1))
    assert live.skipped == 0
    assert deltas.made < RESUMING * 5, "deltas are shared by the streams that hold the same snapshot"
