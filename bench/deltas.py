"""Bytes per update on the wire: whole snapshots vs deltas (`?deltas=1`), with the demo's traffic.

    .venv/bin/python -m bench.deltas                # 300 updates
    .venv/bin/python -m bench.deltas --updates 1000
    .venv/bin/python -m bench.deltas --rate 1      # a quieter platform

The sidecar itself, in this process, on a SQLite file of its own: five weeks of demo history
(`server.demo`), then the simulator's traffic model (`server.simulate`, the demo's 20 events/s),
one interval (5 s of simulated time, on the app's clock, so nothing waits) at a time: the events of
that interval are posted, a snapshot is computed, and its push is measured both ways. Every delta
is applied to the previous snapshot as a client would and must give the new one byte for byte.

Sizes are WebSocket frames (header included) and Server-Sent Events, as they leave the sidecar.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from starlette.testclient import TestClient

from server.app import create_app
from server.deltas import FULL_EVERY, DeltaCache
from server.merge_patch import apply_patch
from server.metrics import encode
from server.settings import Settings
from server.snapshot import Snapshot
from server.storage.db import create_engine
from server.storage.migrate import upgrade_to_head
from tools.demo import seed_demo_history
from tools.simulate.traffic import DEMO_RATE, TrafficModel, TrafficProfile, demo_profile

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday morning: a busy day, well into the month
STEP = timedelta(seconds=5)  # the default METRICS_INTERVAL
TARGET_MEDIAN = 150  # bytes per delta update (issue 16)


def _quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


async def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        await seed_demo_history(engine, START, random.Random(7), days=35)
    finally:
        await engine.dispose()


def record(updates: int, rate: float | None = None) -> list[Snapshot]:
    """`updates + 1` consecutive snapshots of the demo's traffic (its own rhythm), or of a flat
    `rate` events per second."""
    import asyncio

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'deltas.db'}"
        asyncio.run(_seed(url))
        now = [START]
        # A long interval: the app's own loop stays idle; the bench computes each snapshot itself.
        settings = Settings(database_url=url, interval=3600, embedded=False, max_batch_events=5000)
        profile = demo_profile(UTC) if rate is None else TrafficProfile(rate=rate)
        model = TrafficModel(random.Random(11), START, profile)
        snapshots: list[Snapshot] = []
        # `localhost`: a name the sidecar answers for while open (TrustedHostMiddleware).
        with TestClient(create_app(settings, clock=lambda: now[0]), base_url="http://localhost") as client:
            hub, loop = client.app_state["hub"], client.app_state["snapshots"]
            for _ in range(updates + 1):
                now[0] += STEP
                events = model.tick(now[0])
                if events:
                    response = client.post("/api/v1/events", json={"events": events})
                    assert response.status_code == 200, response.text
                client.portal.call(loop.refresh)
                assert hub.latest is not None
                snapshots.append(hub.latest)
        return snapshots


def measure(snapshots: list[Snapshot]) -> dict[str, list[int]]:
    cache = DeltaCache()
    sizes: dict[str, list[int]] = {"full ws": [], "delta ws": [], "full sse": [], "delta sse": []}
    held = json.loads(snapshots[0].encoded, parse_float=Decimal)
    for previous, snapshot in itertools.pairwise(snapshots):
        ws = cache.frame(previous, snapshot, "ws")
        sse = cache.frame(previous, snapshot, "sse")
        assert ws is not None and ws[1] is not None and sse is not None, "every update here has a patch"
        sizes["full ws"].append(len(snapshot.wire))
        sizes["delta ws"].append(len(ws[1]))
        sizes["full sse"].append(len(snapshot.event.encode()))
        sizes["delta sse"].append(len(sse[0].encode()))
        patch = json.loads(ws[0], parse_float=Decimal)["patch"]
        held = apply_patch(held, patch)
        assert encode(held) == snapshot.encoded, f"snapshot {snapshot.id} was not rebuilt exactly"
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument(
        "--rate",
        type=float,
        help=f"a flat rate in events per second (default: the demo's model, {DEMO_RATE:g}/s at its peak weight 1)",
    )
    args = parser.parse_args()
    sizes = measure(record(args.updates, args.rate))
    traffic = "the demo's model" if args.rate is None else f"{args.rate:g} events/s"
    print(f"{args.updates} updates, 5 s of traffic each ({traffic}), every delta rebuilt exactly\n")
    print(f"{'bytes per update':<18}{'median':>8}{'p90':>8}{'max':>8}")
    for name, values in sizes.items():
        print(f"{name:<18}{statistics.median(values):>8.0f}{_quantile(values, 0.9):>8.0f}{max(values):>8}")
    full, delta = statistics.median(sizes["full ws"]), statistics.median(sizes["delta ws"])
    # On the stream one push in FULL_EVERY is whole again.
    stream = (sum(sizes["delta ws"]) * (FULL_EVERY - 1) / FULL_EVERY + sum(sizes["full ws"]) / FULL_EVERY) / len(
        sizes["delta ws"]
    )
    print(f"\nmedian delta / median full (WebSocket): {delta / full:.2f}  ({full / delta:.1f}x smaller)")
    print(f"mean bytes per update on a delta stream, a whole snapshot every {FULL_EVERY}: {stream:.0f}")
    verdict = "meets" if delta <= TARGET_MEDIAN else "misses"
    print(f"target: median delta <= {TARGET_MEDIAN} bytes: {verdict} ({delta:.0f})")


if __name__ == "__main__":
    main()
