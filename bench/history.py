"""History at size: rollups vs the plain query over raw rows, in one run, on PostgreSQL.

    .venv/bin/python -m bench.history            # 1 M transactions, 3 M views (a few minutes)
    .venv/bin/python -m bench.history --full     # 10 M transactions, 30 M views (the issue's size)

It builds (or reuses) the data set in its own database next to BENCH_DATABASE_URL's (default
postgresql://postgres@127.0.0.1:5432/test), then times two questions both ways, checks that the
answers are equal, and prints medians and the ratio:
  - a 90-day daily revenue series (GET /api/v1/analytics/timeseries?metric=revenue&interval=day)
  - the top-10 content of the last 30 days (GET /api/v1/analytics/content/top)
The product side is also timed end to end over HTTP against a sidecar served in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.analytics.buckets import buckets
from server.storage import history, rollups
from server.storage.db import create_database, create_engine
from server.storage.migrate import upgrade_to_head

BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CHUNK = 1_000_000
CONTENT = 2000
DAYS = 120

_TX = """
INSERT INTO transactions (id, user_id, content_id, amount, currency, status, created_at, completed_at)
SELECT 'b-' || g, 'u-' || floor(random() * 200000)::int, 'c-' || floor({content} * power(random(), 2))::int,
       round((0.99 + random() * 199)::numeric, 2), 'USD',
       CASE WHEN r < 0.9 THEN 'completed' WHEN r < 0.97 THEN 'failed' ELSE 'pending' END,
       t, CASE WHEN r < 0.9 THEN t + (random() * 120) * interval '1 second' END
FROM (SELECT g, random() AS r, {moment} AS t FROM generate_series({lo}, {hi}) AS g) AS s
"""
_VIEWS = """
INSERT INTO content_views (content_id, user_id, viewed_at)
SELECT 'c-' || floor({content} * power(random(), 2))::int, 'u-' || floor(random() * 200000)::int,
       {moment}
FROM generate_series({lo}, {hi}) AS g
"""
# Rows arrive in time order, as events do (with a minute of jitter): row g of N at the g/N point
# of the window. Random order instead would scatter each hour's rollup rows over the whole table.
_MOMENT = (
    "now() - interval '{days} days' + ((g - 1)::float8 / {total}) * interval '{days} days'"
    " + random() * interval '1 minute'"
)


async def prepare(name: str, transactions: int, views: int) -> str:
    """The data set's URL; built once, reused while its row counts match."""
    url = make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            counts = (
                await conn.execute(
                    text("SELECT (SELECT count(*) FROM transactions), (SELECT count(*) FROM content_views)")
                )
            ).one()
        if tuple(counts) == (transactions, views):
            print(f"reusing {name}: {transactions:,} transactions, {views:,} views")
            await upgrade_to_head(engine)  # a data set built by an older version gets the newer schema
            return url
    except Exception:
        pass
    finally:
        await engine.dispose()
    print(f"building {name}: {transactions:,} transactions, {views:,} views (rollups kept by the triggers)")
    await create_database(BASE_URL, name, replace=True)
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        for template, total in ((_TX, transactions), (_VIEWS, views)):
            for lo in range(1, total + 1, CHUNK):
                started = time.perf_counter()
                hi = min(lo + CHUNK - 1, total)
                async with engine.begin() as conn:
                    moment = _MOMENT.format(days=DAYS, total=total)
                    await conn.execute(text(template.format(content=CONTENT, days=DAYS, lo=lo, hi=hi, moment=moment)))
                print(f"  rows {lo:,}..{hi:,}: {time.perf_counter() - started:.1f} s", flush=True)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    return url


async def _median_ms(work: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, Any]:
    await work()  # warm-up
    times = []
    answer = None
    for _ in range(runs):
        started = time.perf_counter()
        answer = await work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), answer


async def compare(url: str, runs: int) -> list[tuple[str, float, float]]:
    engine = create_engine(url)
    now = datetime.now(UTC)
    zone = ZoneInfo("UTC")
    ninety = buckets(now - timedelta(days=90), now, "day", zone, 1000)
    month_start, month_end = now - timedelta(days=30), now
    rows = []
    try:
        async with engine.connect() as conn:
            questions: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = [
                (
                    "90-day daily revenue",
                    lambda: rollups.revenue_and_purchases(conn, ninety),
                    lambda: history.revenue_and_purchases(conn, ninety),
                ),
                (
                    "top-10 content, 30 days",
                    lambda: _top10(rollups.content_figures(conn, month_start, month_end)),
                    lambda: _top10(history.content_figures(conn, month_start, month_end)),
                ),
            ]
            for label, product, plain in questions:
                fast_ms, fast = await _median_ms(product, runs)
                slow_ms, slow = await _median_ms(plain, max(3, runs // 3))
                assert fast == slow, f"{label}: the rollup answer differs from the plain query"
                rows.append((label, fast_ms, slow_ms))
    finally:
        await engine.dispose()
    return rows


async def _top10(figures: Awaitable[list[history.ContentFigures]]) -> list[tuple[str, int]]:
    ranked = sorted(await figures, key=lambda f: (-f.views, -f.purchases, f.content_id))
    return [(f.content_id, f.views) for f in ranked[:10]]


def http_medians(url: str, runs: int) -> dict[str, float]:
    """The product's answer times end to end, through a sidecar on a loopback port."""
    from server.settings import Settings
    from tests.support.live import serve

    settings = Settings(database_url=url, embedded=False, interval=60)
    now = datetime.now(UTC)
    paths = {
        "90-day daily revenue": "/api/v1/analytics/timeseries?metric=revenue&interval=day"
        f"&from={(now - timedelta(days=90)).date()}&to={(now + timedelta(days=1)).date()}",
        "top-10 content, 30 days": "/api/v1/analytics/content/top?by=views&limit=10",
    }
    medians = {}
    with serve(settings) as address, httpx.Client(base_url=f"http://{address}", timeout=60) as client:
        for label, path in paths.items():
            client.get(path).raise_for_status()
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            medians[label] = statistics.median(times)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10 M transactions and 30 M views")
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each product query (default 15)")
    args = parser.parse_args()
    transactions, views = (10_000_000, 30_000_000) if args.full else (1_000_000, 3_000_000)
    name = f"metrics_bench_{transactions // 1_000_000}m_v2"
    url = asyncio.run(prepare(name, transactions, views))
    rows = asyncio.run(compare(url, args.runs))
    over_http = http_medians(url, args.runs)
    print(f"\n{transactions:,} transactions, {views:,} views, PostgreSQL; medians in ms")
    print(f"{'question':<26}{'rollups':>10}{'over HTTP':>11}{'plain query':>13}{'ratio':>9}")
    for label, fast_ms, slow_ms in rows:
        print(f"{label:<26}{fast_ms:>10.1f}{over_http[label]:>11.1f}{slow_ms:>13.1f}{slow_ms / fast_ms:>8.0f}x")
    print("answers equal: yes (checked on every question)")


if __name__ == "__main__":
    main()
