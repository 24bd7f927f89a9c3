"""Pace's cost in the snapshot read: with the instance's first-moment lists vs the plain distinct count.

    .venv/bin/python -m bench.pace            # on bench.snapshot's 1 M data set (built or reused)
    .venv/bin/python -m bench.pace --full     # on its 10 M one

For one `now` (after bench.snapshot's ten minutes of live traffic), times in one run:
  - `read_snapshot_inputs` with warm `PaceUsers` lists (what the snapshot loop runs);
  - `read_snapshot_inputs` without them (pace's active users counted plainly, as before);
  - `read_pace_inputs` alone both ways, and one `PaceUsers.refresh` (both days, after publishing);
  - the lists' late-writes check alone (the two sums over `late_activity` that `read_pace_inputs`
    compares with the lists' own, in the same statement): what exactness costs the read;
checks the two reads give exactly the same inputs and prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from server.metrics import pace_windows, period_starts
from server.storage.db import create_engine
from server.storage.pace_inputs import read_pace_inputs
from server.storage.pace_users import ListCount, PaceUsers, late_writes
from server.storage.snapshot_inputs import read_snapshot_inputs

from .snapshot import BASE_URL
from .snapshot_data import FULL, REDUCED, Size, add_live_traffic, prepare


async def _median_ms(work: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, Any]:
    times, answer = [], None
    for _ in range(runs):
        started = time.perf_counter()
        answer = await work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), answer


async def measure(url: str, size: Size, zone: ZoneInfo, runs: int) -> None:
    now = await add_live_traffic(url, size)
    periods = period_starts(now, zone)
    windows = pace_windows(now, zone)
    engine = create_engine(url)
    lists = PaceUsers()
    try:
        refresh_ms, _ = await _median_ms(lambda: PaceUsers().refresh(engine, now, zone, most_days=4), 3)
        await lists.refresh(engine, now, zone, most_days=4)
        known = (lists.count(windows[0], zone, now), lists.count(windows[1], zone, now))
        assert None not in known, "the lists were not usable right after a refresh"

        async def read(pace_users: PaceUsers | None) -> Any:
            async with engine.begin() as conn:
                return await read_snapshot_inputs(conn, periods, now, zone, pace_users)

        async def pace_only(users: tuple[ListCount | None, ListCount | None]) -> Any:
            async with engine.begin() as conn:
                return await read_pace_inputs(conn, windows, users)

        await read(lists)  # warm-up
        fast_ms, fast = await _median_ms(lambda: read(lists), runs)
        slow_ms, slow = await _median_ms(lambda: read(None), max(3, runs // 4))
        pace_fast_ms, _ = await _median_ms(lambda: pace_only(known), runs)
        pace_slow_ms, _ = await _median_ms(lambda: pace_only((None, None)), max(3, runs // 4))

        async def late_check() -> Any:
            async with engine.begin() as conn:
                sums = [late_writes(day.day_start, day.day_end) for day in known if day is not None]
                return (await conn.execute(select(*sums))).one()

        check_ms, _ = await _median_ms(late_check, runs)
        assert fast == slow, f"the read with lists differs from the plain one:\n{fast}\n{slow}"
    finally:
        await engine.dispose()
    print(f"\nnow = {now.isoformat()}, zone {zone.key}; pace users {known}, days kept {len(lists.days_kept())}")
    print(f"\n{'medians':<52}{'wall ms':>10}")
    print(f"{'read_snapshot_inputs, first-moment lists':<52}{fast_ms:>10.2f}")
    print(f"{'read_snapshot_inputs, plain pace count':<52}{slow_ms:>10.2f}")
    print(f"{'read_pace_inputs alone, lists':<52}{pace_fast_ms:>10.2f}")
    print(f"{'read_pace_inputs alone, plain count':<52}{pace_slow_ms:>10.2f}")
    print(f"{'late-writes check alone (in read_pace_inputs)':<52}{check_ms:>10.2f}")
    print(f"{'PaceUsers.refresh (both days; after publishing)':<52}{refresh_ms:>10.2f}")
    print(f"ratio plain / lists (whole read): {slow_ms / fast_ms:,.1f}x; inputs equal: yes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="bench.snapshot's 10 M data set")
    parser.add_argument("--runs", type=int, default=21, help="timed runs of the fast side (default 21)")
    parser.add_argument("--zone", default="UTC", help="METRICS_TIMEZONE for the run (default UTC)")
    args = parser.parse_args()
    size = FULL if args.full else REDUCED
    url = asyncio.run(prepare(BASE_URL, size))
    asyncio.run(measure(url, size, ZoneInfo(args.zone), args.runs))


if __name__ == "__main__":
    main()
