"""Reading what a snapshot needs: plain aggregates over the contract's tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, cast, delete, func, select, union
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.metrics import ACTIVE_WINDOW, PEAK_WINDOW, MetricInputs, PaceWindow, Periods, pace_windows
from server.storage.models import ContentView, SnapshotLog, Transaction, UserActivity

_completed_time = func.coalesce(Transaction.completed_at, Transaction.created_at)


def _cents_sum(conn: AsyncConnection, expression: Any) -> Any:
    """SUM of a money expression, exact: numeric on PostgreSQL, integer cents on SQLite.

    SQLite keeps NUMERIC values as binary floats; each is rounded back to its cents before
    summing, so the sum is an exact integer.
    """
    if conn.dialect.name == "sqlite":
        return func.coalesce(func.sum(cast(func.round(expression * 100), Integer)), 0)
    return func.coalesce(func.sum(expression), 0)


def _to_cents(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(Decimal(value) * 100)


def _active_users(since: datetime, until: datetime, *, exclusive_start: bool) -> Any:
    """Distinct users with any event in the range: `(since, until]` or `[since, until]`."""

    def within(column: Any) -> Any:
        lower = column > since if exclusive_start else column >= since
        return lower & (column <= until)

    sources = union(
        select(UserActivity.user_id).where(within(UserActivity.at)),
        select(ContentView.user_id).where(within(ContentView.viewed_at), ContentView.user_id.is_not(None)),
        select(Transaction.user_id).where(within(Transaction.created_at)),
        select(Transaction.user_id).where(within(Transaction.completed_at)),
        select(Transaction.user_id).where(within(Transaction.status_changed_at)),
    ).subquery()
    return select(func.count()).select_from(sources).scalar_subquery()


async def pace_inputs(conn: AsyncConnection, windows: tuple[PaceWindow, PaceWindow]) -> tuple[int, int, int, int]:
    """(revenue cents yesterday, revenue cents last week, active users yesterday, active users last
    week) over `pace_windows(now, zone)`, each window `[start, cutoff]` like today's `[day_start, now]`."""
    completed = Transaction.status == "completed"
    columns: list[Any] = [
        select(_cents_sum(conn, Transaction.amount))
        .where(completed, _completed_time >= window.start, _completed_time <= window.cutoff)
        .scalar_subquery()
        for window in windows
    ]
    columns.extend(_active_users(window.start, window.cutoff, exclusive_start=False) for window in windows)
    revenue_yesterday, revenue_last_week, active_yesterday, active_last_week = (
        await conn.execute(select(*columns))
    ).one()
    return _to_cents(revenue_yesterday), _to_cents(revenue_last_week), int(active_yesterday), int(active_last_week)


async def read_metric_inputs(conn: AsyncConnection, periods: Periods, now: datetime, zone: ZoneInfo) -> MetricInputs:
    earliest = min(periods.week_start, periods.month_start)
    completed = Transaction.status == "completed"
    amount = Transaction.amount
    # Periods run to `now`: a completion stamped later (accepted up to 5 min ahead) is not yet in them.
    revenue = (
        await conn.execute(
            select(
                _cents_sum(conn, case((_completed_time >= periods.day_start, amount))),
                _cents_sum(conn, case((_completed_time >= periods.week_start, amount))),
                _cents_sum(conn, case((_completed_time >= periods.month_start, amount))),
            ).where(completed, _completed_time >= earliest, _completed_time <= now)
        )
    ).one()
    total = (await conn.execute(select(_cents_sum(conn, amount)).where(completed))).scalar_one()
    by_status = dict((await conn.execute(select(Transaction.status, func.count()).group_by(Transaction.status))).all())
    counts = (
        await conn.execute(
            select(
                select(func.count()).select_from(ContentView).scalar_subquery(),
                _active_users(now - ACTIVE_WINDOW, now, exclusive_start=True),
                _active_users(periods.day_start, now, exclusive_start=False),
                select(func.coalesce(func.max(SnapshotLog.active_current), 0))
                .where(SnapshotLog.computed_at > now - PEAK_WINDOW)
                .scalar_subquery(),
            )
        )
    ).one()
    pace = await pace_inputs(conn, pace_windows(now, zone))
    return MetricInputs(
        revenue_total_cents=_to_cents(total),
        revenue_today_cents=_to_cents(revenue[0]),
        revenue_week_cents=_to_cents(revenue[1]),
        revenue_month_cents=_to_cents(revenue[2]),
        active_current=counts[1],
        active_today=counts[2],
        pending=by_status.get("pending", 0),
        completed=by_status.get("completed", 0),
        failed=by_status.get("failed", 0),
        total_views=counts[0],
        peak_seen_24h=counts[3],
        pace_revenue_yesterday_cents=pace[0],
        pace_revenue_last_week_cents=pace[1],
        pace_active_yesterday=pace[2],
        pace_active_last_week=pace[3],
    )


async def last_snapshot_id(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.coalesce(func.max(SnapshotLog.snapshot_id), 0)))).scalar_one()


async def recent_payloads(engine: AsyncEngine, limit: int) -> list[str]:
    """The last `limit` snapshots' JSON, oldest first (prefills `history` after a restart)."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(SnapshotLog.payload).order_by(SnapshotLog.snapshot_id.desc()).limit(limit))
        return list(reversed(rows.scalars().all()))


async def log_snapshot(
    conn: AsyncConnection, snapshot_id: int, computed_at: datetime, active: int, payload: str
) -> None:
    """Keep the snapshot (its id, its `current`, its JSON) and forget those older than 24 h."""
    await conn.execute(
        SnapshotLog.__table__.insert().values(
            snapshot_id=snapshot_id, computed_at=computed_at, active_current=active, payload=payload
        )
    )
    await conn.execute(delete(SnapshotLog).where(SnapshotLog.computed_at <= computed_at - PEAK_WINDOW))
