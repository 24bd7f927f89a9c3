"""The client resumes by itself: after a disconnect or a stretch of not reading, every snapshot
missed comes, in order, with none twice; deltas are applied for the caller; a reset is surfaced."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx

from metrics_client import MetricsClient
from server.settings import Settings
from tests.support.live import serve

# The sidecar of these tests computes a snapshot every 0.2 s (tests/conftest.py).
SEVERAL_INTERVALS = 1.5


def _assert_gapless(snapshots: list[dict[str, Any]]) -> None:
    """Fresh ids one after another; an id comes again only as its stale copy."""
    for previous, snapshot in itertools.pairwise(snapshots):
        ids = (previous["snapshotId"], snapshot["snapshotId"])
        assert ids[1] == ids[0] + 1 or (ids[1] == ids[0] and snapshot["stale"] is True), ids


async def _take(client: MetricsClient, count: int) -> list[dict[str, Any]]:
    taken: list[dict[str, Any]] = []
    async for snapshot in client.snapshots():
        taken.append(snapshot)
        if len(taken) == count:
            break
    return taken


async def test_a_client_that_stops_reading_for_several_intervals_then_reads_on_misses_nothing(
    settings: Settings,
) -> None:
    with serve(settings) as address:
        client = MetricsClient(f"ws://{address}/ws/metrics")
        snapshots: list[dict[str, Any]] = []
        stream = aiter(client.snapshots())
        for _ in range(3):
            snapshots.append(await anext(stream))
        # The frames wait in buffers, or, once those are full, the sidecar skips some for the slow
        # reader and the client asks for them with a resume message (tests/client/test_stream_position.py).
        await asyncio.sleep(SEVERAL_INTERVALS)
        first_after = snapshots[-1]["snapshotId"] + 1
        while snapshots[-1]["snapshotId"] < first_after + 10:
            snapshots.append(await anext(stream))
        await stream.aclose()  # type: ignore[attr-defined]
    _assert_gapless(snapshots)


async def test_a_client_disconnected_for_several_intervals_resumes_with_since_and_misses_nothing(
    settings: Settings,
) -> None:
    with serve(settings) as address:
        first = MetricsClient(f"ws://{address}/ws/metrics")
        before = await _take(first, 3)
        await asyncio.sleep(SEVERAL_INTERVALS)  # the connection is closed; snapshots go on
        # What a reconnect does: the same client connects again with ?since=<the last id>.
        assert first.connect_url() == f"ws://{address}/ws/metrics?since={before[-1]['snapshotId']}"
        current = _current(address)
        after: list[dict[str, Any]] = []
        async for snapshot in first.snapshots():
            after.append(snapshot)
            if snapshot["snapshotId"] >= current + 2:  # the missed ones, then live ones
                break
    assert current > before[-1]["snapshotId"] + 1, "snapshots were computed while it was away"
    assert after[0]["snapshotId"] == before[-1]["snapshotId"] + 1
    _assert_gapless(before + after)


async def test_an_explicit_since_replays_from_there_on_the_first_connect(settings: Settings) -> None:
    with serve(settings) as address:
        seen = await _take(MetricsClient(f"ws://{address}/ws/metrics"), 6)
        since = seen[0]["snapshotId"]
        replayed = await _take(MetricsClient(f"ws://{address}/ws/metrics", since=since), 5)
    assert replayed[0]["snapshotId"] == since + 1
    _assert_gapless(replayed)


async def test_a_reset_is_surfaced_to_on_reset_and_the_current_snapshot_follows(settings: Settings) -> None:
    resets: list[dict[str, Any]] = []
    with serve(settings) as address:
        client = MetricsClient(f"ws://{address}/ws/metrics", since=10**9, on_reset=resets.append)
        [snapshot] = await _take(client, 1)
    assert [(r["type"], r["since"], r["reason"]) for r in resets] == [("reset", 10**9, "ahead")]
    assert snapshot["snapshotId"] == resets[0]["latest"] or snapshot["snapshotId"] > resets[0]["latest"]


async def test_deltas_applied_by_the_client_equal_the_whole_snapshots_id_by_id(settings: Settings) -> None:
    with serve(settings) as address:
        url = f"ws://{address}/ws/metrics"
        patched_client = MetricsClient(url, deltas=True, exact=True)
        whole_client = MetricsClient(url, exact=True)
        patched, whole = await asyncio.gather(_take(patched_client, 15), _take(whole_client, 20))
    assert "deltas=1" in patched_client.connect_url()
    assert patched_client.patches_applied >= 10  # most came as deltas, not whole
    whole_by_id = {s["snapshotId"]: s for s in whole if not s["stale"]}
    compared = [s for s in patched if not s["stale"] and s["snapshotId"] in whole_by_id]
    assert len(compared) >= 10
    for snapshot in compared:
        # Same members, same order, same values (Decimal keeps 12.50 apart from 12.5).
        assert list(snapshot) == list(whole_by_id[snapshot["snapshotId"]])
        assert repr(snapshot) == repr(whole_by_id[snapshot["snapshotId"]])
    _assert_gapless(patched)


def _current(address: str) -> int:
    return int(httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").json()["snapshotId"])
