"""A snapshot's inputs at a cost that does not grow with history (tables of migration 0006).

The numbers are exactly those of the plain aggregates (`queries.read_metric_inputs`, kept as the
reference), read from what the triggers keep instead of from all the rows:
- totals (transactions by status, revenue, views): the few rows of `snapshot_totals`;
- revenue today / this week / this month: the 15-minute sales rollup for the whole quarters of
  each period, and raw completed transactions for the edges that do not line up (the current
  quarter up to `now`, and a period start off the quarter grid, which no zone in use has);
- `activeUsers.current`: the raw moments of the last 5 minutes, on covering indexes;
- `activeUsers.today` on PostgreSQL: the users counted for the local day in `active_day_counts`,
  corrected by the deltas the triggers appended since the last fold (migration 0007), less
  those whose moments today are all still ahead of `now`; on SQLite, or for a day the day
  tables do not cover, the plain distinct count;
- `peak24h`: the snapshot log's highest `current`, on its (active_current, computed_at) index.

On PostgreSQL the snapshot also folds the rollups' recent delta rows (migration 0007) once the
15-minute rollups hold more than a few for the last two quarters.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, and_, bindparam, case, column, func, literal, or_, select, table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from server.metrics import ACTIVE_WINDOW, PEAK_WINDOW, MetricInputs, Periods, period_starts
from server.storage.models import SnapshotLog, Transaction
from server.storage.queries import _active_users, _cents_sum, _completed_time, _to_cents
from server.storage.rollups import QUARTER, ceil_to, floor_to, fold_recent
from server.storage.types import UtcDateTime

# Must match migration 0006: the day tables' writers take it shared, a rebuild exclusive.
ACTIVE_DAYS_LOCK = 7_306_152_012
_FOLD_LOCK = 7_306_152_013  # one folder of delta rows at a time
_FOLD_AT = 64  # delta rows kept before they are folded into one
_PRUNE_CHUNK = 5000  # old day rows deleted per snapshot (a day's worth goes in the background)

_TOTALS = table(
    "snapshot_totals", *(column(name) for name in ("pending", "completed", "failed", "revenue_cents", "views"))
)
_CONFIG = table("active_days_config", column("zone"), column("since_day", Date()))
_FOLD_TOTALS = text(
    "WITH gone AS (DELETE FROM snapshot_totals RETURNING *)"
    " INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents, views)"
    " SELECT coalesce(sum(pending), 0), coalesce(sum(completed), 0), coalesce(sum(failed), 0),"
    " coalesce(sum(revenue_cents), 0), coalesce(sum(views), 0) FROM gone"
)


def _scalar(expression: Any, *where: Any, source: Any = None) -> Any:
    query = select(expression)
    if source is not None:
        query = query.select_from(source)
    return query.where(*where).scalar_subquery()


async def read_snapshot_inputs(conn: AsyncConnection, periods: Periods, now: datetime, zone: ZoneInfo) -> MetricInputs:
    """The same `MetricInputs` as `read_metric_inputs(conn, periods, now)`, without reading history.

    One statement reads everything but PostgreSQL's count for today, which takes a second. On
    PostgreSQL it may also fold delta rows and prune old day rows: run it in a transaction that
    commits (as the snapshot loop does); rolled back, it is still exact.
    """
    postgres = conn.dialect.name == "postgresql"
    columns = [_scalar(func.coalesce(func.sum(c), 0), source=_TOTALS) for c in _TOTALS.c]
    columns.append(_scalar(func.count(), source=_TOTALS))
    columns.extend(_period_revenue(conn, periods, now))
    columns.append(_active_users(now - ACTIVE_WINDOW, now, exclusive_start=True))
    columns.append(
        _scalar(func.coalesce(func.max(SnapshotLog.active_current), 0), SnapshotLog.computed_at > now - PEAK_WINDOW)
    )
    if postgres:
        columns.extend([_scalar(_CONFIG.c.zone, source=_CONFIG), _scalar(_CONFIG.c.since_day, source=_CONFIG)])
        recent = floor_to(now, QUARTER) - QUARTER
        columns.extend(_scalar(func.count(), rollup.c.bucket >= recent) for rollup in (_SALES, _VIEWS))
    row = (await conn.execute(select(*columns))).one()
    pending, completed, failed, revenue_total, views, delta_rows = row[:6]
    rollup_cents, raw_cents = row[6:9], row[9:12]
    current, peak = row[12:14]
    active_today = await _active_today(conn, periods, now, zone, row[14], row[15]) if postgres else None
    if active_today is None:
        active_today = (
            await conn.execute(select(_active_users(periods.day_start, now, exclusive_start=False)))
        ).scalar_one()
    if postgres and delta_rows > _FOLD_AT:
        await _fold(conn, _FOLD_TOTALS)
    if postgres and row[16] + row[17] > _FOLD_AT:
        await _take_fold_locks(conn)
        await fold_recent(conn, now)
    today, week, month = (int(rollup) + _to_cents(raw) for rollup, raw in zip(rollup_cents, raw_cents, strict=True))
    return MetricInputs(
        revenue_total_cents=int(revenue_total),
        revenue_today_cents=today,
        revenue_week_cents=week,
        revenue_month_cents=month,
        active_current=current,
        active_today=active_today,
        pending=int(pending),
        completed=int(completed),
        failed=int(failed),
        total_views=int(views),
        peak_seen_24h=peak,
    )


# -- revenue of the periods ------------------------------------------------------------------

_SALES = table("rollup_sales_15m", column("bucket", UtcDateTime()), column("revenue_cents"))
_VIEWS = table("rollup_views_15m", column("bucket", UtcDateTime()))
_Range = tuple[datetime, datetime | None]  # [lo, hi), or [lo, now] when hi is None


def _period_revenue(conn: AsyncConnection, periods: Periods, now: datetime) -> list[Any]:
    """Completed revenue in cents of `[start, now]` for the day, week and month starts: three
    sums of rollup quarters, then three sums of raw edges."""
    cut = floor_to(now, QUARTER)
    whole: list[datetime | None] = []  # each period's first whole quarter, read from the rollup
    edges: list[list[_Range]] = []  # each period's raw ranges
    for start in (periods.day_start, periods.week_start, periods.month_start):
        first = ceil_to(start, QUARTER)
        if first < cut:
            whole.append(first)
            edges.append([r for r in ((start, first), (cut, None)) if r[1] is None or r[0] < r[1]])
        else:
            whole.append(None)
            edges.append([(start, None)])
    bucket = _SALES.c.bucket
    rollup = [
        literal(0)
        if first is None
        else _scalar(func.coalesce(func.sum(_SALES.c.revenue_cents), 0), bucket >= first, bucket < cut)
        for first in whole
    ]
    lowest = min(lo for ranges in edges for lo, _ in ranges)
    raw = [
        _scalar(
            _cents_sum(conn, case((_within(ranges, now), Transaction.amount))),
            Transaction.status == "completed",
            _completed_time >= lowest,
            _completed_time <= now,
        )
        for ranges in edges
    ]
    return rollup + raw


def _within(ranges: list[_Range], now: datetime) -> Any:
    return or_(
        *[
            and_(_completed_time >= lo, _completed_time <= now if hi is None else _completed_time < hi)
            for lo, hi in ranges
        ]
    )


# -- active users today ----------------------------------------------------------------------


async def _active_today(
    conn: AsyncConnection, periods: Periods, now: datetime, zone: ZoneInfo, stored_zone: str | None, since: date | None
) -> int | None:
    """Distinct users active in `[day_start, now]` from the day tables, or None to count plainly."""
    name = getattr(zone, "key", None)
    if name is None or not _dates_run_forward(zone, periods.day_start):
        return None
    today = now.astimezone(zone).date()
    if stored_zone is None or since is None:
        return None
    if stored_zone != name:
        if not await _rebuild(conn, name, today - timedelta(days=1)):
            return None
        since = today - timedelta(days=1)
    elif since < today - timedelta(days=1):
        since = today - timedelta(days=1)
        await conn.execute(text("UPDATE active_days_config SET since_day = :s"), {"s": since})
    if today < since:
        return None  # a `now` before the days kept (a clock set back): the plain count
    tomorrow_start = period_starts(periods.day_start + timedelta(hours=36), zone).day_start
    counted = (
        await conn.execute(
            _TODAY,
            {"today": today, "now": now, "until": tomorrow_start + timedelta(hours=3), "zone": name, "since": since},
        )
    ).one()
    users, rows, stale_rows, deltas = counted
    if stale_rows:
        await _prune(conn, since)
    if deltas:
        await _fold(conn, _FOLD_DELTAS)
    if rows > _FOLD_AT:
        await _fold(conn, _FOLD_DAY, today=today)
    return int(users)


def _ahead(column: str, table: str, extra: str = "") -> str:
    return (
        f"SELECT user_id FROM {table} WHERE {column} > :now AND {column} < :until"
        f" AND ({column} AT TIME ZONE :zone)::date = :today{extra}"
    )


# Users counted for today, plus those the unfolded deltas bring (or take away), less those whose
# every moment today is after `now` (one snapshot).
_TODAY = text(
    "WITH d AS (SELECT user_id, sum(n) AS n FROM active_user_day_deltas WHERE day = :today GROUP BY user_id)"
    " SELECT (SELECT coalesce(sum(users), 0) FROM active_day_counts WHERE day = :today)"
    " + (SELECT coalesce(sum(CASE WHEN coalesce(a.n, 0) + d.n > 0 THEN 1 ELSE 0 END"
    " - CASE WHEN coalesce(a.n, 0) > 0 THEN 1 ELSE 0 END), 0)"
    " FROM d LEFT JOIN active_user_days a ON a.day = :today AND a.user_id = d.user_id)"
    " - (SELECT count(*) FROM (SELECT user_id, count(*) AS ahead FROM ("
    + " UNION ALL ".join(
        [
            _ahead("at", "user_activity"),
            _ahead("viewed_at", "content_views", " AND user_id IS NOT NULL"),
            _ahead("created_at", "transactions"),
            _ahead("completed_at", "transactions"),
            _ahead("status_changed_at", "transactions"),
        ]
    )
    + ") m GROUP BY user_id) f"
    " WHERE f.ahead = coalesce((SELECT a.n FROM active_user_days a WHERE a.day = :today AND a.user_id = f.user_id), 0)"
    " + coalesce((SELECT d.n FROM d WHERE d.user_id = f.user_id), 0)),"
    " (SELECT count(*) FROM active_day_counts WHERE day = :today),"
    " EXISTS (SELECT 1 FROM active_user_days WHERE day < :since)"
    " OR EXISTS (SELECT 1 FROM active_day_counts WHERE day < :since)"
    " OR EXISTS (SELECT 1 FROM active_user_day_deltas WHERE day < :since),"
    " EXISTS (SELECT 1 FROM active_user_day_deltas)"
).bindparams(
    bindparam("today", type_=Date()),
    bindparam("since", type_=Date()),
    bindparam("now", type_=UtcDateTime()),
    bindparam("until", type_=UtcDateTime()),
)

# The triggers' deltas into the day rows (only folders write those), and the change in users with
# at least one moment into the day counts.
_FOLD_DELTAS = text(
    "WITH gone AS (DELETE FROM active_user_day_deltas RETURNING day, user_id, n),"
    " c AS (SELECT day, user_id, sum(n) AS d FROM gone GROUP BY 1, 2 HAVING sum(n) <> 0),"
    " up AS (INSERT INTO active_user_days AS r (day, user_id, n) SELECT day, user_id, d FROM c"
    " ORDER BY day, user_id ON CONFLICT (day, user_id) DO UPDATE SET n = r.n + EXCLUDED.n"
    " RETURNING r.day, r.user_id, r.n),"
    " moved AS (SELECT up.day, CASE WHEN up.n > 0 AND up.n - c.d <= 0 THEN 1"
    " WHEN up.n <= 0 AND up.n - c.d > 0 THEN -1 ELSE 0 END AS users"
    " FROM up JOIN c ON c.day = up.day AND c.user_id = up.user_id)"
    " INSERT INTO active_day_counts (day, users) SELECT day, sum(users) FROM moved GROUP BY day HAVING sum(users) <> 0"
)
_FOLD_DAY = text(
    "WITH gone AS (DELETE FROM active_day_counts WHERE day = :today RETURNING users)"
    " INSERT INTO active_day_counts (day, users) SELECT :today, coalesce(sum(users), 0) FROM gone"
).bindparams(bindparam("today", type_=Date()))


async def _fold(conn: AsyncConnection, statement: Any, **params: Any) -> None:
    """Replace delta rows by their sum: one folder at a time, never during a day-table rebuild.

    Losing the fold in a crash loses nothing (it is all or nothing), so its commit needs no flush.
    """
    await _take_fold_locks(conn)
    await conn.execute(statement, params)


async def _take_fold_locks(conn: AsyncConnection) -> None:
    await conn.execute(text(f"SELECT pg_advisory_xact_lock_shared({ACTIVE_DAYS_LOCK})"))
    await conn.execute(text(f"SELECT pg_advisory_xact_lock({_FOLD_LOCK})"))
    await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))


async def _prune(conn: AsyncConnection, since: date) -> None:
    await conn.execute(
        text(
            "DELETE FROM active_user_days WHERE (day, user_id) IN"
            f" (SELECT day, user_id FROM active_user_days WHERE day < :s LIMIT {_PRUNE_CHUNK})"
        ),
        {"s": since},
    )
    await conn.execute(text("DELETE FROM active_day_counts WHERE day < :s"), {"s": since})
    await conn.execute(text("DELETE FROM active_user_day_deltas WHERE day < :s"), {"s": since})


async def _rebuild(conn: AsyncConnection, zone: str, since: date) -> bool:
    """Key the day tables by `zone` from `since` on (once, when the sidecar's zone changes)."""
    known = (
        await conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = :z)"), {"z": zone})
    ).scalar_one()
    if not known:
        return False
    await conn.execute(text(f"SELECT pg_advisory_xact_lock({ACTIVE_DAYS_LOCK})"))
    await conn.execute(text("UPDATE active_days_config SET zone = :z, since_day = :s"), {"z": zone, "s": since})
    await conn.execute(text("SELECT active_days_rebuild()"))
    return True


@lru_cache(maxsize=64)
def _dates_run_forward(zone: ZoneInfo, day_start: datetime) -> bool:
    """False when, around this local day, clocks set back across a midnight (the local date of
    an instant then goes back, and a day is no longer one stretch of time): count plainly."""
    step = timedelta(minutes=15)
    moment = day_start - timedelta(days=1)
    end = day_start + timedelta(days=3)
    offset = moment.astimezone(zone).utcoffset()
    while moment < end:
        following = moment + step
        next_offset = following.astimezone(zone).utcoffset()
        if next_offset is not None and offset is not None and next_offset < offset:
            lo, hi = moment, following  # the change is in (lo, hi]
            while hi - lo > timedelta(seconds=1):
                middle = lo + (hi - lo) / 2
                if middle.astimezone(zone).utcoffset() == offset:
                    lo = middle
                else:
                    hi = middle
            if hi.astimezone(zone).date() < lo.astimezone(zone).date():
                return False
        moment, offset = following, next_offset
    return True


async def rebuild_active_days(conn: AsyncConnection, zone: str, since: date) -> None:
    """Key PostgreSQL's day tables by `zone`, covering the days from `since` on."""
    if not await _rebuild(conn, zone, since):
        raise ValueError(f"PostgreSQL does not know the time zone {zone!r}")
