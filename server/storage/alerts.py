"""Alert firings in the database, and the extra signals alert rules read."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.analytics.buckets import Bucket
from server.metrics import period_starts
from server.storage import rollups
from server.storage.db import write_connection
from server.storage.models import AlertEvent, Transaction

_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


async def open_firings(engine: AsyncEngine) -> dict[str, AlertEvent]:
    """The firing (unresolved) row of each rule that has one."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(AlertEvent).where(AlertEvent.resolved_at.is_(None)))).all()
    return {row.rule: _event(row) for row in rows}


async def record_firing(
    engine: AsyncEngine,
    *,
    rule: str,
    severity: str,
    message: str,
    value: Decimal,
    threshold: Decimal,
    at: datetime,
    snapshot_id: int,
) -> AlertEvent | None:
    """Open a firing; None when the rule already has an open one (another instance opened it)."""
    conn = await write_connection(engine)
    try:
        async with conn.begin():
            result = await conn.execute(
                AlertEvent.__table__.insert()
                .values(
                    rule=rule,
                    severity=severity,
                    message=message,
                    value=str(value),
                    threshold=str(threshold),
                    fired_at=at,
                    fired_snapshot_id=snapshot_id,
                )
                .returning(*AlertEvent.__table__.c)
            )
            row = result.one()
    except IntegrityError:
        return None
    finally:
        await conn.close()
    return _event(row)


async def record_resolution(engine: AsyncEngine, event_id: int, *, at: datetime, snapshot_id: int) -> AlertEvent | None:
    """Close a firing; None when it was already closed."""
    conn = await write_connection(engine)
    try:
        async with conn.begin():
            result = await conn.execute(
                update(AlertEvent)
                .where(AlertEvent.id == event_id, AlertEvent.resolved_at.is_(None))
                .values(resolved_at=at, resolved_snapshot_id=snapshot_id)
                .returning(*AlertEvent.__table__.c)
            )
            row = result.one_or_none()
    finally:
        await conn.close()
    return None if row is None else _event(row)


async def recent_firings(engine: AsyncEngine, limit: int) -> list[AlertEvent]:
    """The open firings and the latest closed ones, newest first, at most `limit` in all."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(AlertEvent)
                .order_by(AlertEvent.resolved_at.is_not(None), AlertEvent.fired_at.desc(), AlertEvent.id.desc())
                .limit(limit)
            )
        ).all()
    return [_event(row) for row in rows]


def _event(row: Any) -> AlertEvent:
    return AlertEvent(**{column.key: getattr(row, column.key) for column in AlertEvent.__table__.c})


async def failed_share_last_hour(conn: AsyncConnection, now: datetime) -> Decimal | None:
    """Percent of the transactions created in `(now - 1 h, now]` that have failed; None if there are none."""
    return await failed_share(conn, now, timedelta(hours=1))


async def failed_share(conn: AsyncConnection, now: datetime, window: timedelta) -> Decimal | None:
    """Percent of the transactions created in `(now - window, now]` that have failed; None if there are none."""
    since = now - window
    query = select(
        func.count(),
        func.count().filter(Transaction.status == "failed"),
    ).where(and_(Transaction.created_at > since, Transaction.created_at <= now))
    total, failed = (await conn.execute(query)).one()
    if not total:
        return None
    return (Decimal(failed) * _HUNDRED / Decimal(total)).quantize(_CENT, ROUND_HALF_UP)


async def revenue_today_vs_last_week(
    conn: AsyncConnection, now: datetime, zone: ZoneInfo, revenue_today: Decimal
) -> Decimal | None:
    """Percent change of today's revenue against the same local day last week up to the same
    local time; None when last week had no revenue by then."""
    local_now = now.astimezone(zone)
    # Wall-clock arithmetic: the same local time seven days ago, whatever DST did in between.
    then = (local_now - timedelta(days=7)).astimezone(now.tzinfo)
    day_start = period_starts(then, zone).day_start
    if then <= day_start:
        return None
    ((cents, _purchases),) = await rollups.revenue_and_purchases(conn, [Bucket(day_start, then)])
    if not cents:
        return None
    before = Decimal(cents) / _HUNDRED
    return ((revenue_today - before) * _HUNDRED / before).quantize(_CENT, ROUND_HALF_UP)
