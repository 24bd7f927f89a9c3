"""The rollups answer exactly what the plain queries over raw rows answer, whatever the writes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.analytics.buckets import Bucket, buckets
from server.storage import history, rollups
from server.storage.maintenance import fold_recent_rollups
from server.storage.rollups import Segment, split
from server.storage.types import to_sqlite_text

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _param(engine: AsyncEngine, moment: datetime) -> object:
    return to_sqlite_text(moment) if engine.dialect.name == "sqlite" else moment


async def _random_rows(engine: AsyncEngine, rng: random.Random, count: int) -> None:
    """Views and transactions at random instants (microseconds included) over ten days."""
    async with engine.begin() as conn:
        for n in range(count):
            at = T0 + timedelta(seconds=rng.uniform(0, 10 * 86400))
            at = at.replace(microsecond=rng.choice([0, rng.randrange(1_000_000)]))
            content = f"c-{rng.randrange(8)}"
            await conn.execute(
                text("INSERT INTO content_views (content_id, user_id, viewed_at) VALUES (:c, 'u', :at)"),
                {"c": content, "at": _param(engine, at)},
            )
            if n % 3 == 0:
                status = rng.choice(["completed", "completed", "pending", "failed"])
                done = at + timedelta(seconds=rng.uniform(0, 7200)) if status == "completed" else None
                amount = Decimal(rng.randrange(1, 100_000)) / 100
                await conn.execute(
                    text(
                        "INSERT INTO transactions (id, user_id, content_id, amount, currency, status, created_at,"
                        " completed_at) VALUES (:id, 'u', :c, :amount, 'USD', :status, :at, :done)"
                    ),
                    {
                        "id": f"t-{n}",
                        "c": rng.choice([content, None]),
                        "amount": amount if engine.dialect.name == "postgresql" else str(amount),
                        "status": status,
                        "at": _param(engine, at),
                        "done": None if done is None else _param(engine, done),
                    },
                )
        # status moves, a changed time and deletions, straight in the tables
        await conn.execute(
            text("UPDATE transactions SET status = 'completed' WHERE status = 'pending' AND id LIKE '%3'")
        )
        await conn.execute(text("UPDATE transactions SET status = 'failed' WHERE status = 'pending' AND id LIKE '%6'"))
        await conn.execute(text("DELETE FROM transactions WHERE id LIKE '%9'"))
        await conn.execute(text("DELETE FROM content_views WHERE id % 17 = 0"))


def _by_content(figures: list[history.ContentFigures]) -> list[history.ContentFigures]:
    return sorted(figures, key=lambda f: f.content_id)


def _random_range(rng: random.Random) -> tuple[datetime, datetime]:
    start = T0 + timedelta(seconds=rng.uniform(-86400, 9 * 86400))
    return start, start + timedelta(seconds=rng.choice([600, 5400, 86400 * 2.3, 86400 * 9]))


async def test_rollups_equal_the_plain_queries_on_random_writes(engine: AsyncEngine) -> None:
    rng = random.Random(20261127)
    await _random_rows(engine, rng, 600)
    async with engine.connect() as conn:
        for _ in range(12):
            start, end = _random_range(rng)
            assert await rollups.content_figures(conn, start, end) == await history.content_figures(
                conn, start, end
            ) or (
                sorted(await rollups.content_figures(conn, start, end), key=lambda f: f.content_id)
                == sorted(await history.content_figures(conn, start, end), key=lambda f: f.content_id)
            )
            zone = ZoneInfo(rng.choice(["UTC", "Pacific/Auckland", "Asia/Kathmandu", "America/St_Johns"]))
            edges = buckets(start, end, rng.choice(["minute", "hour", "day"]), zone, 5000)
            assert await rollups.revenue_and_purchases(conn, edges) == await history.revenue_and_purchases(conn, edges)
            assert await rollups.views(conn, edges) == await history.views(conn, edges)


async def test_folded_rollups_keep_one_row_per_bucket_and_the_same_sums(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        return  # SQLite's rollups keep one row per bucket all along
    rng = random.Random(11)
    await _random_rows(engine, rng, 300)
    keys = {
        "rollup_sales_15m": "bucket",
        "rollup_views_15m": "bucket",
        "rollup_content_hour": "bucket, content_id",
        "rollup_content_day": "bucket, content_id",
    }
    count_extra = " + ".join(f"(SELECT count(*) - count(DISTINCT ({key})) FROM {name})" for name, key in keys.items())
    async with engine.connect() as conn:
        assert (await conn.execute(text(f"SELECT {count_extra}"))).scalar_one() > 0
    async with engine.begin() as conn:
        await fold_recent_rollups(conn, T0)  # every bucket is on or after the one before T0's
    async with engine.connect() as conn:
        assert (await conn.execute(text(f"SELECT {count_extra}"))).scalar_one() == 0
        for _ in range(6):
            start, end = _random_range(rng)
            assert _by_content(await rollups.content_figures(conn, start, end)) == _by_content(
                await history.content_figures(conn, start, end)
            )
            edges = buckets(start, end, rng.choice(["hour", "day"]), ZoneInfo("Asia/Kathmandu"), 5000)
            assert await rollups.revenue_and_purchases(conn, edges) == await history.revenue_and_purchases(conn, edges)
            assert await rollups.views(conn, edges) == await history.views(conn, edges)


async def test_unaligned_buckets_read_their_edges_from_raw_rows(engine: AsyncEngine) -> None:
    rng = random.Random(7)
    await _random_rows(engine, rng, 300)
    odd = [Bucket(T0 + timedelta(minutes=7 + 50 * i), T0 + timedelta(minutes=7 + 50 * (i + 1))) for i in range(200)]
    async with engine.connect() as conn:
        assert await rollups.revenue_and_purchases(conn, odd) == await history.revenue_and_purchases(conn, odd)
        assert await rollups.views(conn, odd) == await history.views(conn, odd)


async def test_a_truncated_table_takes_its_rollups_along(engine: AsyncEngine) -> None:
    await _random_rows(engine, random.Random(3), 90)
    async with engine.begin() as conn:
        # A changed amount leaves rows of revenue without purchases (PostgreSQL appends signed sums).
        await conn.execute(text("UPDATE transactions SET amount = amount + 1 WHERE status = 'completed'"))
    async with engine.begin() as conn:
        statement = "TRUNCATE transactions" if engine.dialect.name == "postgresql" else "DELETE FROM transactions"
        await conn.execute(text(statement))
    edges = [Bucket(T0 - timedelta(days=1), T0 + timedelta(days=11))]
    async with engine.connect() as conn:
        assert await rollups.revenue_and_purchases(conn, edges) == [(0, 0)]
        figures = _by_content(await rollups.content_figures(conn, edges[0].start, edges[0].end))
        assert figures == _by_content(await history.content_figures(conn, edges[0].start, edges[0].end))
        assert figures and all(f.purchases == 0 and f.revenue_cents == 0 for f in figures)


def test_a_range_splits_into_raw_edges_whole_hours_and_whole_days() -> None:
    start = datetime(2026, 3, 1, 22, 40, 5, tzinfo=UTC)
    end = datetime(2026, 3, 4, 1, 20, tzinfo=UTC)
    assert split(start, end) == [
        Segment("raw", start, datetime(2026, 3, 1, 23, tzinfo=UTC)),
        Segment("hour", datetime(2026, 3, 1, 23, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
        Segment("day", datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)),
        Segment("hour", datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 4, 1, tzinfo=UTC)),
        Segment("raw", datetime(2026, 3, 4, 1, tzinfo=UTC), end),
    ]
    assert split(start, start + timedelta(minutes=10)) == [Segment("raw", start, start + timedelta(minutes=10))]


def test_a_long_partial_day_is_read_as_the_day_minus_its_other_hours() -> None:
    start = datetime(2026, 3, 1, 2, 10, tzinfo=UTC)
    end = datetime(2026, 3, 3, 20, 0, tzinfo=UTC)
    assert split(start, end) == [
        Segment("raw", start, datetime(2026, 3, 1, 3, tzinfo=UTC)),
        Segment("day", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
        Segment("hour", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, 3, tzinfo=UTC), -1),
        Segment("day", datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)),
        Segment("day", datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)),
        Segment("hour", datetime(2026, 3, 3, 20, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC), -1),
    ]
