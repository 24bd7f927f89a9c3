"""Maintenance of the derived tables: a named step of its own, run after the snapshot's read.

On PostgreSQL the triggers append rows of deltas (`server/storage/sql/postgresql/`), which the
readers sum exactly however many there are. Left alone they would pile up, so the instance
that computes the snapshots calls `maintain_derived` after each read:
- re-key the day tables when the sidecar's zone differs from theirs (a rebuild), or else move
  their first day up to yesterday and prune the days before it;
- fold the day deltas into the day rows, and a day's count rows into one;
- fold the snapshot totals' rows into one, and the recent rollup buckets' rows into one each,
  once more than `FOLD_AT` pile up, and late activity's appended rows into one per hour;
- then, outside that transaction, VACUUM the small append-only tables it folded (their dead
  rows would otherwise slow the snapshot's read until autovacuum comes, if it is on).
Each step is all or nothing and leaves every read exact; so does a failed or skipped run. SQLite
has nothing to maintain (its triggers keep one row per bucket).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage import locks, sql
from server.storage.models import ActiveDaysConfig
from server.storage.rollups import DAY, HOUR, QUARTER, floor_to
from server.storage.types import UtcDateTime

FOLD_AT = 64  # delta rows kept before they are folded into one


def _statement(name: str, **types: Any) -> Any:
    return text(sql.statement("postgresql", "maintenance", name)).bindparams(
        *(bindparam(key, type_=type_) for key, type_ in types.items())
    )


_FOLD_TOTALS = _statement("fold snapshot_totals")
_FOLD_DAY_DELTAS = _statement("fold active_user_day_deltas")
_FOLD_DAY_COUNTS = _statement("fold active_day_counts", today=Date())
_FOLD_LATE = _statement("fold late_activity")
_FOLD_ROLLUPS = tuple(
    (_statement(f"fold {table}", lo=UtcDateTime()), step)
    for table, step in (
        ("rollup_sales_15m", QUARTER),
        ("rollup_views_15m", QUARTER),
        ("rollup_content_hour", HOUR),
        ("rollup_content_day", DAY),
    )
)
_PRUNES = tuple(
    _statement(f"prune {table}", since=Date())
    for table in ("active_user_days", "active_day_counts", "active_user_day_deltas")
)
_KEEP_DAYS_FROM = _statement("keep days from", since=Date())
_KEY_DAYS_BY_ZONE = _statement("key days by zone", since=Date())
_ZONE_IS_KNOWN = _statement("zone is known")
_WHAT_NEEDS_DOING = _statement("what needs doing", recent=UtcDateTime(), today=Date())
_REBUILD = text("SELECT active_days_rebuild()")


async def maintain_derived(engine: AsyncEngine, now: datetime, zone: ZoneInfo) -> None:
    """Fold, prune and (when the zone changed) rebuild PostgreSQL's derived tables, in one
    transaction of its own; nothing on SQLite."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        folded = await _maintain(conn, now, zone)
    if folded:
        await _vacuum(engine, folded)


async def _vacuum(engine: AsyncEngine, tables: list[str]) -> None:
    """Reclaim the rows a fold deleted from its small append-only tables, and refresh their
    statistics. Left to autovacuum (off on some servers, and slow to come to small tables),
    their dead rows pile up: the snapshot's read then scans pages of nothing, and its plan,
    going by a row count of long ago, scans the whole table instead of the index. A plain
    VACUUM takes no lock that writers wait for; it cannot run in a transaction."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"VACUUM (ANALYZE) {', '.join(tables)}"))


async def _maintain(conn: AsyncConnection, now: datetime, zone: ZoneInfo) -> list[str]:
    """The steps that are due, in `conn`'s transaction; the small tables whose rows it folded."""
    # One maintainer at a time (FOLD): when another holds it, this run is skipped rather than
    # queued, and no lock is waited for long (a holder that hangs must not hang the snapshots).
    # Losing a fold in a crash loses nothing (it is all or nothing): its commit needs no flush.
    settings = "set_config('synchronous_commit', 'off', true), set_config('lock_timeout', '2s', true)"
    await conn.execute(text(f"SELECT {settings}"))
    if not (await conn.execute(text(f"SELECT pg_try_advisory_xact_lock({locks.FOLD})"))).scalar_one():
        return []
    today = now.astimezone(zone).date()
    since = await _key_days(conn, getattr(zone, "key", None), today)
    # No rebuild but this transaction's own from here on (its own locks never conflict).
    await conn.execute(text(f"SELECT pg_advisory_xact_lock_shared({locks.ACTIVE_DAYS})"))
    recent = floor_to(now, QUARTER) - QUARTER
    todo = (await conn.execute(_WHAT_NEEDS_DOING, {"recent": recent, "today": today})).one()
    oldest = min((day for day in (todo.oldest_day, todo.oldest_delta_day) if day is not None), default=None)
    if since is not None and oldest is not None and oldest < since:
        for prune in _PRUNES:
            await conn.execute(prune, {"since": since})
    folded: list[str] = []
    if todo.oldest_delta_day is not None:
        await conn.execute(_FOLD_DAY_DELTAS)
        folded.append("active_user_day_deltas")
    if todo.today_count_rows > FOLD_AT:
        await conn.execute(_FOLD_DAY_COUNTS, {"today": today})
        folded.append("active_day_counts")
    if todo.totals_rows > FOLD_AT:
        await conn.execute(_FOLD_TOTALS)
        folded.append("snapshot_totals")
    if todo.unfolded_late_rows > FOLD_AT:
        await conn.execute(_FOLD_LATE)
        folded.append("late_activity")
    if todo.recent_rollup_rows > FOLD_AT:
        await fold_recent_rollups(conn, now)
    return folded


async def _key_days(conn: AsyncConnection, zone_name: str | None, today: date) -> date | None:
    """Key the day tables by the sidecar's zone (a rebuild, when it changed), keeping the days
    from yesterday on; the first day kept, or None when the tables have no configuration."""
    config = (await conn.execute(select(ActiveDaysConfig.zone, ActiveDaysConfig.since_day))).first()
    if config is None:
        return None
    stored_zone, since = config
    yesterday = today - timedelta(days=1)
    if zone_name is not None and stored_zone != zone_name:
        if await rebuild_active_days(conn, zone_name, yesterday, must_know=False):
            return yesterday
    elif since < yesterday:
        await conn.execute(_KEEP_DAYS_FROM, {"since": yesterday})
        return yesterday
    return since


async def fold_recent_rollups(conn: AsyncConnection, now: datetime) -> None:
    """One row per bucket (and content) from the bucket before `now`'s on, where writers have
    appended several. Older buckets keep theirs (only late events add to them): the sums are
    exact either way. The caller keeps folders from running at once."""
    for statement, step in _FOLD_ROLLUPS:
        await conn.execute(statement, {"lo": floor_to(now, step) - step})


async def rebuild_active_days(conn: AsyncConnection, zone: str, since: date, *, must_know: bool = True) -> bool:
    """Key PostgreSQL's day tables by `zone`, covering the days from `since` on. A zone
    PostgreSQL does not know raises ValueError, or with `must_know=False` changes nothing and
    returns False (the snapshot then counts today plainly)."""
    if not (await conn.execute(_ZONE_IS_KNOWN, {"zone": zone})).scalar_one():
        if must_know:
            raise ValueError(f"PostgreSQL does not know the time zone {zone!r}")
        return False
    await conn.execute(text(f"SELECT pg_advisory_xact_lock({locks.ACTIVE_DAYS})"))
    await conn.execute(_KEY_DAYS_BY_ZONE, {"zone": zone, "since": since})
    await conn.execute(_REBUILD)
    return True
