"""The snapshot benchmark's data set: transactions, views and activity in PostgreSQL, built once.

Rows go in through the normal schema (so every trigger keeps its tables up to date as they
arrive), in time order over 120 days, with a share of each table in the last 24 hours so that
"today" and "the last 5 minutes" are non-trivial. Users are skewed: low ids are the heavy users.
Each run then adds "live" traffic for the minutes before it starts, with plain SQL (inserts, a
few status updates, one delete), and a day of `snapshot_log` rows at the 5-second cadence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.metrics import MetricInputs, compute_snapshot, encode
from server.storage.db import create_database, create_engine
from server.storage.migrate import upgrade_to_head

CHUNK = 1_000_000
CONTENT = 2000
USERS = 1_000_000
DAYS = 120


@dataclass(frozen=True)
class Size:
    transactions: int
    views: int
    activity: int

    @property
    def name(self) -> str:
        return f"metrics_bench_snapshot_{self.transactions // 1_000_000}m"


REDUCED = Size(1_000_000, 3_000_000, 2_000_000)
FULL = Size(10_000_000, 30_000_000, 20_000_000)

# Share of each table's rows in the last 24 h of the data set (the rest spread over 119 days).
_RECENT = {"transactions": 0.02, "content_views": 0.02, "user_activity": 0.10}

_USER = f"'u-' || floor({USERS} * power(random(), 3))::int"
_CONTENT = f"'c-' || floor({CONTENT} * power(random(), 2))::int"


def _moment(total: int, recent_share: float, end: str) -> str:
    """Row g of `total` at its place in time: old rows over 119 days, the last share over 24 h."""
    old = int(total * (1 - recent_share))
    return (
        f"(CASE WHEN g <= {old}"
        f" THEN {end} - interval '{DAYS} days' + ((g - 1)::float8 / {old}) * interval '{DAYS - 1} days'"
        f" ELSE {end} - interval '1 day' + ((g - 1 - {old})::float8 / {total - old}) * interval '1 day' END)"
        f" - random() * interval '1 minute'"
    )


_TEMPLATES = {
    "transactions": """
INSERT INTO transactions (id, user_id, content_id, amount, currency, status, created_at, completed_at)
SELECT 'b-' || g, {user}, {content}, round((0.99 + random() * 199)::numeric, 2), 'USD',
       CASE WHEN r < 0.9 THEN 'completed' WHEN r < 0.97 THEN 'failed' ELSE 'pending' END,
       t, CASE WHEN r < 0.9 THEN least(t + (random() * 120) * interval '1 second', {end}) END
FROM (SELECT g, random() AS r, {moment} AS t FROM generate_series({lo}, {hi}) AS g) AS s
""",
    "content_views": """
INSERT INTO content_views (content_id, user_id, viewed_at)
SELECT {content}, CASE WHEN random() < 0.8 THEN {user} END, {moment}
FROM generate_series({lo}, {hi}) AS g
""",
    "user_activity": """
INSERT INTO user_activity (user_id, at)
SELECT {user}, {moment} FROM generate_series({lo}, {hi}) AS g
""",
}


def url_for(base_url: str, size: Size) -> str:
    return make_url(base_url).set(database=size.name).render_as_string(hide_password=False)


async def _built(url: str, size: Size) -> bool:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT transactions, views, activity FROM bench_built"))).one()
        return tuple(row) == (size.transactions, size.views, size.activity)
    except Exception:
        return False
    finally:
        await engine.dispose()


async def prepare(base_url: str, size: Size) -> str:
    """The data set's URL: built once (then marked in `bench_built`), reused and brought to the newest schema."""
    url = url_for(base_url, size)
    if await _built(url, size):
        print(f"reusing {size.name}: {size.transactions:,} tx, {size.views:,} views, {size.activity:,} activity")
        engine = create_engine(url)
        try:
            started = time.perf_counter()
            await upgrade_to_head(engine)  # a data set built by an older version gets the newer schema
            print(f"  schema at head ({time.perf_counter() - started:.1f} s)")
        finally:
            await engine.dispose()
        return url
    print(f"building {size.name}: {size.transactions:,} tx, {size.views:,} views, {size.activity:,} activity")
    await create_database(base_url, size.name, replace=True)
    engine = create_engine(url)
    end = f"TIMESTAMPTZ '{datetime.now(UTC).isoformat()}'"
    try:
        await upgrade_to_head(engine)
        for table, total in (
            ("transactions", size.transactions),
            ("content_views", size.views),
            ("user_activity", size.activity),
        ):
            moment = _moment(total, _RECENT[table], end)
            for lo in range(1, total + 1, CHUNK):
                started = time.perf_counter()
                hi = min(lo + CHUNK - 1, total)
                sql = _TEMPLATES[table].format(user=_USER, content=_CONTENT, moment=moment, end=end, lo=lo, hi=hi)
                async with engine.begin() as conn:
                    await conn.execute(text(sql))
                print(f"  {table} {lo:,}..{hi:,}: {time.perf_counter() - started:.1f} s", flush=True)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
            await conn.execute(text("CREATE TABLE bench_built (transactions bigint, views bigint, activity bigint)"))
            await conn.execute(
                text(f"INSERT INTO bench_built VALUES ({size.transactions}, {size.views}, {size.activity})")
            )
    finally:
        await engine.dispose()
    return url


async def add_live_traffic(url: str, size: Size, minutes: int = 10) -> datetime:
    """Traffic of the last `minutes` at the data set's recent rate, straight into the tables with
    plain SQL; a day of snapshot log at the 5 s cadence. Returns the moment it ends."""
    now = datetime.now(UTC)
    end = f"TIMESTAMPTZ '{now.isoformat()}'"
    per_minute = {t: int(total * _RECENT[t] / 1440) for t, total in _table_sizes(size).items()}
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            tag = int(now.timestamp())
            span = f"{end} - random() * interval '{minutes} minutes'"
            await conn.execute(
                text(
                    f"INSERT INTO user_activity (user_id, at) SELECT {_USER}, {span}"
                    f" FROM generate_series(1, {per_minute['user_activity'] * minutes})"
                )
            )
            await conn.execute(
                text(
                    f"INSERT INTO content_views (content_id, user_id, viewed_at)"
                    f" SELECT {_CONTENT}, CASE WHEN random() < 0.8 THEN {_USER} END, {span}"
                    f" FROM generate_series(1, {per_minute['content_views'] * minutes})"
                )
            )
            await conn.execute(
                text(
                    f"INSERT INTO transactions (id, user_id, content_id, amount, currency, status, created_at)"
                    f" SELECT 'live-{tag}-' || g, {_USER}, {_CONTENT}, round((0.99 + random() * 199)::numeric, 2),"
                    f" 'USD', 'pending', {span} - interval '1 minute'"
                    f" FROM generate_series(1, {per_minute['transactions'] * minutes}) AS g"
                )
            )
            # The platform settles most of them with a plain UPDATE (the trigger stamps the change).
            await conn.execute(
                text(
                    f"UPDATE transactions SET status = CASE WHEN random() < 0.93 THEN 'completed' ELSE 'failed' END,"
                    f" completed_at = NULL WHERE id LIKE 'live-{tag}-%' AND random() < 0.8"
                )
            )
            await conn.execute(
                text(
                    f"UPDATE transactions SET completed_at = {end}"
                    f" WHERE id LIKE 'live-{tag}-1_' AND status = 'completed'"
                )
            )
            await conn.execute(text(f"DELETE FROM transactions WHERE id = 'live-{tag}-1'"))
            await conn.execute(text("DELETE FROM snapshot_log"))
            payload = encode(compute_snapshot(MetricInputs(*([0] * 15)), now, 1)).decode()
            await conn.execute(
                text(
                    "INSERT INTO snapshot_log (snapshot_id, computed_at, active_current, payload)"
                    " SELECT g, CAST(:end AS timestamptz) - (17280 - g) * interval '5 seconds',"
                    " 1000 + floor(random() * 9000)::int,"
                    " :payload FROM generate_series(1, 17279) AS g"
                ),
                {"end": now, "payload": payload},
            )
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE snapshot_log"))
    finally:
        await engine.dispose()
    return now + timedelta(seconds=1)


def _table_sizes(size: Size) -> dict[str, int]:
    return {"transactions": size.transactions, "content_views": size.views, "user_activity": size.activity}
