"""A snapshot's inputs at a cost that does not grow with history; read only.

The numbers are exactly those of the plain aggregates (`queries.read_metric_inputs`, kept as the
reference), read from what the triggers keep (`server.storage.models.derived`) instead of from
all the rows, whatever state the maintenance (`server.storage.maintenance`) left them in:
- totals (transactions by status, revenue, views): the sum of the rows of `snapshot_totals`;
- revenue today / this week / this month: the 15-minute sales rollup for the whole quarters of
  each period, and raw completed transactions for the edges that do not line up (the current
  quarter up to `now`, and a period start off the quarter grid, which no zone in use has);
- `activeUsers.current`: the raw moments of the last 5 minutes, on covering indexes;
- `activeUsers.today` on PostgreSQL, when the day tables are keyed by the sidecar's zone and
  cover today, the day's counts, corrected by the deltas not
  yet folded, less the users whose moments today are all still ahead of `now`); on SQLite, or
  otherwise, the plain distinct count;
- `peak24h`: the snapshot log's highest `current`, on its (active_current, computed_at) index;
- pace (yesterday's and last week's figures to the same time): `server.storage.pace_inputs`, its
  active users from the instance's `server.storage.pace_users` lists when usable.
On PostgreSQL all but pace is one fixed statement, `sql/postgresql/snapshot_read.sql`: one round
trip, planned once per connection, nothing for SQLAlchemy to compile per snapshot.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Date, Text, and_, bindparam, case, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from server.metrics import ACTIVE_WINDOW, PEAK_WINDOW, MetricInputs, Periods, pace_windows, period_starts
from server.storage import sql
from server.storage.models import RollupSales15m, SnapshotLog, SnapshotTotals, Transaction
from server.storage.pace_inputs import read_pace_inputs
from server.storage.pace_users import ListCount, PaceUsers
from server.storage.queries import _active_users, _cents_sum, _completed_time, _to_cents
from server.storage.rollups import QUARTER, ceil_to, floor_to
from server.storage.types import UtcDateTime

_TOTALS = (
    SnapshotTotals.pending,
    SnapshotTotals.completed,
    SnapshotTotals.failed,
    SnapshotTotals.revenue_cents,
    SnapshotTotals.views,
)


def _scalar(expression: Any, *where: Any) -> Any:
    return select(expression).where(*where).scalar_subquery()


async def read_snapshot_inputs(
    conn: AsyncConnection, periods: Periods, now: datetime, zone: ZoneInfo, pace_users: PaceUsers | None = None
) -> MetricInputs:
    """The same `MetricInputs` as `read_metric_inputs(conn, periods, now, zone)`, without reading history.

    `pace_users`: the instance's first-moment lists for pace's active users; without them (or
    without a usable list for a day) those are counted by the plain query, exact and slower.

    On PostgreSQL one fixed statement (`sql/postgresql/snapshot_read.sql`) reads everything; on
    SQLite one statement built here, and a plain count for today. It writes nothing: folding
    and pruning is `server.storage.maintenance.maintain_derived`.
    """
    windows = pace_windows(now, zone)
    listed: tuple[ListCount | None, ListCount | None] = (None, None)
    if pace_users is not None:
        listed = (pace_users.count(windows[0], zone, now), pace_users.count(windows[1], zone, now))
    if conn.dialect.name == "postgresql":
        inputs = await _read_postgresql(conn, periods, now, zone)
    else:
        inputs = await _read_sqlite(conn, periods, now)
    pace = await read_pace_inputs(conn, windows, listed)
    if pace_users is not None:
        for window in pace.outdated_lists:
            pace_users.forget(window, zone)
    return replace(
        inputs,
        pace_revenue_yesterday_cents=pace.revenue_yesterday_cents,
        pace_revenue_last_week_cents=pace.revenue_last_week_cents,
        pace_active_yesterday=pace.active_yesterday,
        pace_active_last_week=pace.active_last_week,
    )


async def _read_sqlite(conn: AsyncConnection, periods: Periods, now: datetime) -> MetricInputs:
    columns = [_scalar(func.coalesce(func.sum(measure), 0)) for measure in _TOTALS]
    columns.extend(_period_revenue(conn, periods, now))
    columns.append(_active_users(now - ACTIVE_WINDOW, now, exclusive_start=True))
    columns.append(
        _scalar(func.coalesce(func.max(SnapshotLog.active_current), 0), SnapshotLog.computed_at > now - PEAK_WINDOW)
    )
    row = (await conn.execute(select(*columns))).one()
    pending, completed, failed, revenue_total, views = row[:5]
    rollup_cents, raw_cents = row[5:8], row[8:11]
    current, peak = row[11:13]
    active_today = await _plain_active_today(conn, periods, now)
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
        **_NO_PACE_YET,
    )


# Filled in by `read_snapshot_inputs` once the dialect's read is done (the same for both).
_NO_PACE_YET = {
    "pace_revenue_yesterday_cents": 0,
    "pace_revenue_last_week_cents": 0,
    "pace_active_yesterday": 0,
    "pace_active_last_week": 0,
}


async def _plain_active_today(conn: AsyncConnection, periods: Periods, now: datetime) -> int:
    statement = select(_active_users(periods.day_start, now, exclusive_start=False))
    return int((await conn.execute(statement)).scalar_one())


async def _read_postgresql(conn: AsyncConnection, periods: Periods, now: datetime, zone: ZoneInfo) -> MetricInputs:
    cut = floor_to(now, QUARTER)
    starts = (periods.day_start, periods.week_start, periods.month_start)
    parameters: dict[str, Any] = {"now": now, "cut": cut}
    for period, start in zip(_PERIODS, starts, strict=True):
        first = ceil_to(start, QUARTER)
        parameters[f"{period}_start"] = start
        parameters[f"{period}_first"] = first if first < cut else None  # no whole quarter: all raw
    name: str | None = getattr(zone, "key", None)
    tomorrow_start = period_starts(periods.day_start + timedelta(hours=36), zone).day_start
    parameters.update(
        current_from=now - ACTIVE_WINDOW,
        peak_from=now - PEAK_WINDOW,
        today=now.astimezone(zone).date(),
        until=tomorrow_start + timedelta(hours=3),
        zone=name or "",
        use_days=name is not None and _dates_run_forward(zone, periods.day_start),
    )
    # Workers cost more to start than the read's few thousand rows take (tens of ms on a busy
    # machine), and the newest rows, past the statistics, look many enough to the planner.
    await conn.execute(_NO_PARALLEL_WORKERS)
    row = (await conn.execute(_SNAPSHOT_READ, parameters)).one()
    active_today = _counted_from_day_tables(row.active_today)
    if active_today is None:
        active_today = await _plain_active_today(conn, periods, now)
    return MetricInputs(
        revenue_total_cents=int(row.revenue_cents),
        revenue_today_cents=int(row.day_cents) + _to_cents(row.day_amount),
        revenue_week_cents=int(row.week_cents) + _to_cents(row.week_amount),
        revenue_month_cents=int(row.month_cents) + _to_cents(row.month_amount),
        active_current=int(row.active_current),
        active_today=active_today,
        pending=int(row.pending),
        completed=int(row.completed),
        failed=int(row.failed),
        total_views=int(row.views),
        peak_seen_24h=int(row.peak),
        **_NO_PACE_YET,
    )


def _counted_from_day_tables(value: Any) -> int | None:
    """Today's count from the day tables, or None when they could not answer (keyed by another
    zone until the maintenance re-keys them, not covering today, or a clocks-back midnight)."""
    return None if value is None else int(value)


_NO_PARALLEL_WORKERS = text("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
_PERIODS = ("day", "week", "month")
_SNAPSHOT_READ = text(sql.statement("postgresql", "snapshot_read", "snapshot inputs")).bindparams(
    *(bindparam(key, type_=UtcDateTime()) for key in ("now", "cut", "current_from", "peak_from", "until")),
    *(bindparam(f"{period}_{edge}", type_=UtcDateTime()) for period in _PERIODS for edge in ("start", "first")),
    bindparam("today", type_=Date()),
    bindparam("zone", type_=Text()),
    bindparam("use_days", type_=Boolean()),
)


# -- revenue of the periods ------------------------------------------------------------------

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
    bucket = RollupSales15m.bucket
    rollup = [
        literal(0)
        if first is None
        else _scalar(func.coalesce(func.sum(RollupSales15m.revenue_cents), 0), bucket >= first, bucket < cut)
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
