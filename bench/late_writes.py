"""What the `late_activity` triggers cost ingestion: the same events written on time and late, side by side.

    .venv/bin/python -m bench.late_writes                 # SQLite and PostgreSQL, 3 rounds each
    .venv/bin/python -m bench.late_writes --rounds 5 --only sqlite

Events go through the product's own write path (`server.storage.ingest.store_events`, 1,000 a
transaction) into a fresh database migrated to head: 20,000 user activities, 20,000 views with a
user and 8,000 transactions (half completed). The baseline is the same events with times of now,
which the triggers look at and pass over; the product side is those events three days old, every
moment of which the triggers count into `late_activity`. Rounds alternate the two, each on a
database of its own; the medians and their ratio are printed, and the late writes counted (so the
triggers did fire). Everyday traffic is on time: the late side is the cost of a backfill.
PostgreSQL databases are made next to BENCH_DATABASE_URL's and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import text

from server.events import Event
from server.storage.db import create_database, create_engine, drop_database
from server.storage.ingest import store_events
from server.storage.migrate import upgrade_to_head

from .snapshot import BASE_URL

ACTIVITIES, VIEWS, TRANSACTIONS, BATCH = 20_000, 20_000, 8_000, 1_000
_EVENT = TypeAdapter(Event)


def _events(base: datetime, seed: int) -> list[Any]:
    """The run's events, their times within the hour before `base`."""
    rng = random.Random(seed)

    def at() -> str:
        return (base - timedelta(milliseconds=rng.randrange(3_600_000))).isoformat()

    def user() -> str:
        return f"u-{rng.randrange(50_000)}"

    raw: list[dict[str, Any]] = [{"type": "user_activity", "userId": user(), "at": at()} for _ in range(ACTIVITIES)]
    raw += [
        {"type": "content_view", "contentId": f"c-{rng.randrange(500)}", "userId": user(), "at": at()}
        for _ in range(VIEWS)
    ]
    raw += [
        {
            "type": "transaction",
            "id": f"t-{n}",
            "userId": user(),
            "contentId": f"c-{rng.randrange(500)}",
            "amount": f"{rng.randrange(99, 20_000) / 100:.2f}",
            "currency": "USD",
            "status": "completed" if n % 2 else "pending",
            "at": at(),
        }
        for n in range(TRANSACTIONS)
    ]
    return [_EVENT.validate_python(event) for event in raw]


async def _write(url: str, events: list[Any]) -> tuple[float, int]:
    """Seconds to store `events` into a fresh database at `url`, and the late writes counted."""
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        received = datetime.now(UTC)
        started = time.perf_counter()
        for offset in range(0, len(events), BATCH):
            await store_events(engine, events[offset : offset + BATCH], received_at=received, currency="USD")
        elapsed = time.perf_counter() - started
        async with engine.connect() as conn:
            late = (await conn.execute(text("SELECT coalesce(sum(writes), 0) FROM late_activity"))).scalar_one()
        return elapsed, int(late)
    finally:
        await engine.dispose()


async def _round(stack: str, events: list[Any], directory: Path) -> tuple[float, int]:
    if stack == "sqlite":
        return await _write(f"sqlite:///{directory / f'{uuid.uuid4().hex}.db'}", events)
    url = await create_database(BASE_URL, f"metrics_bench_late_{uuid.uuid4().hex[:8]}")
    try:
        return await _write(url, events)
    finally:
        await drop_database(BASE_URL, url.rsplit("/", 1)[1])


async def measure(stack: str, rounds: int) -> None:
    now = datetime.now(UTC)
    on_time, late = _events(now, 1), _events(now - timedelta(days=3), 1)
    times: dict[str, list[float]] = {"on time": [], "late": []}
    counted: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(rounds):
            for side, events in (("on time", on_time), ("late", late)):
                seconds, counted[side] = await _round(stack, events, Path(directory))
                times[side].append(seconds)
    base, product = statistics.median(times["on time"]), statistics.median(times["late"])
    rows = len(on_time)
    print(f"\n{stack}: {rows:,} events, {rounds} rounds each (median s; µs per event)")
    for side, seconds in (("on time (baseline)", base), ("late (backfill)", product)):
        print(f"  {side:<22}{seconds:>8.3f} s{seconds / rows * 1e6:>8.1f} µs")
    print(f"  late writes counted: on time {counted['on time']:,}, late {counted['late']:,}")
    print(f"  ratio late / on time: {product / base:.2f}x ({(product - base) / rows * 1e6:+.1f} µs per event)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each side per stack (default 3)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one stack only")
    args = parser.parse_args()
    for stack in [args.only] if args.only else ["sqlite", "postgresql"]:
        asyncio.run(measure(stack, args.rounds))


if __name__ == "__main__":
    main()
