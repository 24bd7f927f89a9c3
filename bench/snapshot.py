"""Snapshot cost at size: the product's snapshot read vs the plain aggregates, in one run, on PostgreSQL.

    .venv/bin/python -m bench.snapshot            # 1 M transactions, 3 M views, 2 M activity rows
    .venv/bin/python -m bench.snapshot --full     # 10 M / 30 M / 20 M (the issue's size)
    .venv/bin/python -m bench.snapshot --millions 3   # 3 M / 9 M / 6 M: how it scales between the two

It builds (or reuses) its data set next to BENCH_DATABASE_URL's (default
postgresql://postgres@127.0.0.1:5432/test; see `bench.snapshot_data`), adds ten minutes of live
traffic with plain SQL, then, for one `now`, times:
  - the product's read (`read_snapshot_inputs`, what the snapshot loop runs; read only), wall time
    and this process's CPU time per snapshot;
  - the whole computation through `SnapshotLoop.refresh()` (read, maintenance of the derived
    tables, compute, fenced log write, publish);
  - the plain aggregates (`read_metric_inputs`, the reference);
checks that the two reads give exactly the same inputs and prints medians and the ratio.

With `--unfolded N` it then appends N activity events of distinct users in the hour before the
5-minute window, 1,000 per statement as ingest writes them, leaves their day deltas unfolded
(no maintenance), and times the product's read again; the events are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.backends import create_backend
from server.hub import SnapshotHub
from server.leadership import Leadership
from server.metrics import period_starts
from server.observability import SidecarMetrics
from server.settings import Settings
from server.snapshot_loop import SnapshotLoop
from server.storage.db import create_engine
from server.storage.maintenance import maintain_derived
from server.storage.migrate import upgrade_to_head
from server.storage.queries import read_metric_inputs
from server.storage.snapshot_inputs import read_snapshot_inputs

from .snapshot_data import FULL, REDUCED, Size, add_live_traffic, prepare

BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _timed(work: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float, Any]:
    """Median wall ms, median CPU ms of this process, and the last answer."""
    walls, cpus = [], []
    answer = None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        answer = await work()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus), answer


async def _unfolded_read(engine: Any, product: Callable[[], Awaitable[Any]], events: int, runs: int) -> float:
    """Median wall ms of the product's read with `events` events' day deltas left unfolded."""
    tag = f"unfolded-{time.time_ns()}"
    for lo in range(0, events, 1000):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO user_activity (user_id, at) SELECT :tag || '-' || g,"
                    " now() - interval '10 minutes' - random() * interval '50 minutes'"
                    " FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS g"
                ),
                {"tag": tag, "lo": lo, "hi": min(lo + 1000, events) - 1},
            )
    async with engine.connect() as conn:
        deltas = (await conn.execute(text("SELECT count(*) FROM active_user_day_deltas"))).scalar_one()
    print(f"unfolded day-delta rows: {deltas:,}")
    wall, _, _ = await _timed(product, runs)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM user_activity WHERE user_id LIKE :tag || '-%'"), {"tag": tag})
    return wall


async def measure(url: str, size: Size, zone: ZoneInfo, runs: int, unfolded: int) -> None:
    now = await add_live_traffic(url, size)
    periods = period_starts(now, zone)
    engine = create_engine(url)
    try:

        async def product() -> Any:
            async with engine.begin() as conn:
                return await read_snapshot_inputs(conn, periods, now, zone)

        async def plain() -> Any:
            async with engine.begin() as conn:
                return await read_metric_inputs(conn, periods, now, zone)

        started = time.perf_counter()
        first = await product()
        await maintain_derived(engine, now, zone)  # keys the day tables by this zone if they were not (once)
        print(f"first read (warm-up, a day-table rebuild if the zone changed): {time.perf_counter() - started:.2f} s")
        fast_ms, fast_cpu, fast = await _timed(product, runs)
        slow_ms, slow_cpu, slow = await _timed(plain, 3)
        assert fast == slow == first, f"the snapshot read differs from the plain aggregates:\n{fast}\n{slow}"
        unfolded_ms = await _unfolded_read(engine, product, unfolded, runs) if unfolded else None
        await maintain_derived(engine, now, zone)

        settings = Settings(database_url=url, embedded=False, interval=5, timezone=zone.key)
        await upgrade_to_head(engine)
        backend = create_backend(None)
        await backend.connect()
        hub = SnapshotHub(backend, settings.redis_prefix, settings.history_size, settings.cache_ttl, clock=lambda: now)
        leadership = Leadership(engine, settings.interval)
        loop = SnapshotLoop(settings, engine, hub, leadership, observability=SidecarMetrics(), clock=lambda: now)
        await loop.start()  # the kept snapshots from the log, the lease, then a first snapshot
        whole_ms, whole_cpu, _ = await _timed(loop.refresh, runs)
        await leadership.release()
        await backend.disconnect()
    finally:
        await engine.dispose()
    print(f"\nnow = {now.isoformat()}, zone {zone.key}; inputs: {fast}")
    print(f"\n{'per snapshot (medians)':<44}{'wall ms':>10}{'CPU ms':>9}")
    print(f"{'product read (read_snapshot_inputs)':<44}{fast_ms:>10.2f}{fast_cpu:>9.2f}")
    print(f"{'whole refresh through SnapshotLoop':<44}{whole_ms:>10.2f}{whole_cpu:>9.2f}")
    print(f"{'plain aggregates (read_metric_inputs)':<44}{slow_ms:>10.1f}{slow_cpu:>9.2f}")
    if unfolded_ms is not None:
        print(f"{f'product read, {unfolded:,} events unfolded':<44}{unfolded_ms:>10.2f}")
    print(f"ratio plain / product read: {slow_ms / fast_ms:,.0f}x; inputs equal: yes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10 M transactions, 30 M views, 20 M activity rows")
    parser.add_argument("--millions", type=int, help="N M transactions, 3N M views, 2N M activity rows")
    parser.add_argument(
        "--copy",
        help="read a copy of the data set made with CREATE DATABASE <copy> TEMPLATE <data set> (to run two"
        " versions side by side, each on its own copy, so that one's maintenance does not tidy the other's)",
    )
    parser.add_argument("--runs", type=int, default=31, help="timed runs of the product side (default 31)")
    parser.add_argument("--zone", default="UTC", help="METRICS_TIMEZONE for the run (default UTC)")
    parser.add_argument("--unfolded", type=int, default=0, help="also time the read with N events' deltas unfolded")
    args = parser.parse_args()
    size = FULL if args.full else REDUCED
    if args.millions:
        size = Size(args.millions * 1_000_000, args.millions * 3_000_000, args.millions * 2_000_000)
    url = asyncio.run(prepare(BASE_URL, size))
    if args.copy:
        url = make_url(url).set(database=args.copy).render_as_string(hide_password=False)
    asyncio.run(measure(url, size, ZoneInfo(args.zone), args.runs, args.unfolded))


if __name__ == "__main__":
    main()
