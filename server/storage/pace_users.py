"""Pace's active users without a query per snapshot: each earlier day's first moments, kept in memory.

"Distinct users active from that day's local midnight to the cut-off" is the number of users
whose *first* moment of that day is at or before the cut-off. So for each day pace compares with
(yesterday, the same weekday last week) the instance that computes the snapshots keeps the sorted
first moment of every user active that day (one `GROUP BY user_id` over the activity sources,
`day_first_moments`), and a snapshot counts with a binary search: no query, O(log users).

When the lists are read, and how far they can lag:
- `refresh` runs after a snapshot is published (`SnapshotLoop.refresh`), never inside the read,
  and re-reads one day's list per snapshot (missing ones first, then the oldest) once it is
  `REFRESH_AFTER` old. It also reads the days that become "yesterday" and "last week" at the
  next local midnight when that midnight is less than `REFRESH_AFTER` away, so the first
  snapshot of a day finds them ready.
- A list is used while it is younger than `USABLE_FOR`; a day without a usable list (the first
  snapshots after a start or a takeover, refreshes failing for that long, more than `MAX_USERS`
  users that day) is counted by the plain distinct count, exact and slower (`pace_inputs`).
- A past day's activity is almost immutable, but not quite: a row can be written afterwards with
  a moment in it (a late event, a direct write, an update or delete of such a row). The triggers
  count every moment written when already more than 20 hours old in `late_activity`, per hour
  (`server/storage/sql/<dialect>/late_activity.sql`). A list keeps that count over its day as it
  was just before the list was read, and the snapshot's read compares it with the count now, in
  the same statement that would count the day plainly: when they differ, the plain count is
  used (`read_pace_inputs`) and the day's list is dropped, to be read again after publishing.
  So pace's active users are exact at every snapshot, like the other figures. A write on time
  is never counted there and needs not be: a list is used only for a day pace compares with,
  whose cut-off is at least 23 hours before now, and only while younger than `USABLE_FOR`, so a
  moment it misses was written after the list's read, later than 20 hours after that moment,
  and counted (with hours to spare for the database's clock and the sidecar's to differ).
  Today's figures are not concerned: they are read exactly every snapshot.
Memory is bounded: at most four days (two now, two for after midnight), of at most `MAX_USERS`
moments each, eight bytes a moment.
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, cast, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.metrics import PaceWindow, pace_windows
from server.storage.models import ContentView, LateActivity, Transaction, UserActivity
from server.storage.models.derived import LATE_ANY_HOUR
from server.storage.rollups import HOUR, floor_to

log = logging.getLogger("server.snapshots")

REFRESH_AFTER = timedelta(minutes=2)
USABLE_FOR = timedelta(minutes=10)
MAX_USERS = 2_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_DayKey = tuple[str, date]  # (zone, local date)


def _micros(moment: datetime) -> int:
    """A UTC instant as integer microseconds since the epoch: exact, and 8 bytes in an array."""
    return (moment - _EPOCH) // _MICROSECOND


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """`[start, end)` of a local day in UTC; the same midnights `pace_window` starts its windows at."""

    def midnight(of: date) -> datetime:
        return datetime.combine(of, time(0), tzinfo=zone).astimezone(UTC)

    return midnight(day), midnight(day + timedelta(days=1))


async def day_first_moments(conn: AsyncConnection, start: datetime, end: datetime, limit: int) -> list[int]:
    """Each user's first moment in `[start, end)` as epoch microseconds, over the same sources and
    columns as the plain distinct count (`queries._active_users`); at most `limit`, in no order."""

    def within(user: Any, column: Any, *where: Any) -> Any:
        return select(user.label("user_id"), column.label("at")).where(column >= start, column < end, *where)

    moments = union_all(
        within(UserActivity.user_id, UserActivity.at),
        within(ContentView.user_id, ContentView.viewed_at, ContentView.user_id.is_not(None)),
        within(Transaction.user_id, Transaction.created_at),
        within(Transaction.user_id, Transaction.completed_at),
        within(Transaction.user_id, Transaction.status_changed_at),
    ).subquery()
    first = func.min(moments.c.at)
    if conn.dialect.name == "postgresql":
        # Integers straight from the server: converting ~100,000 timestamps in Python costs more
        # than the query. `extract` gives an exact numeric (PostgreSQL 14+).
        micros = cast(func.extract("epoch", first) * 1_000_000, BigInteger)
        query = select(micros).group_by(moments.c.user_id).limit(limit)
        return list((await conn.execute(query)).scalars())
    query = select(first).group_by(moments.c.user_id).limit(limit)
    moments_read: list[Any] = list((await conn.execute(query)).scalars())  # datetimes (UtcDateTime)
    return [_micros(moment) for moment in moments_read]


@dataclass(frozen=True)
class _DayList:
    read_at: datetime  # the snapshot clock's `now` when it was read
    first_moments: array[int] | None  # sorted microseconds; None: more than MAX_USERS users that day
    late_writes: int  # `late_writes` of the day just before the list was read


@dataclass(frozen=True)
class ListCount:
    """A window's active users by its day's list, valid while the day's late writes are still `late_writes`."""

    users: int
    day_start: datetime
    day_end: datetime
    late_writes: int


def late_writes(start: datetime, end: datetime) -> Any:
    """Late activity's writes into the hours that overlap `[start, end)`, and a TRUNCATE's: a
    scalar subquery. It only grows (the maintenance's fold keeps each hour's sum)."""
    hour = LateActivity.hour
    overlapping = and_(hour >= floor_to(start, HOUR), hour < end)
    return (
        select(func.coalesce(func.sum(LateActivity.writes), 0))
        .where(or_(overlapping, hour == LATE_ANY_HOUR))
        .scalar_subquery()
    )


class PaceUsers:
    """The first-moment lists of one instance, per (zone, local day); see the module's docstring."""

    def __init__(self, *, max_users: int = MAX_USERS) -> None:
        self.max_users = max_users
        self._days: dict[_DayKey, _DayList] = {}

    def count(self, window: PaceWindow, zone: ZoneInfo, now: datetime) -> ListCount | None:
        """Distinct users active in `window` (`[start, cutoff]` of an earlier day) by the day's
        list, or None when this instance has no usable list for that day (the caller counts it
        plainly). The count holds while the day's `late_writes` are what the list says."""
        key = _key(zone, window.start)
        kept = self._days.get(key)
        if kept is None or kept.first_moments is None or not now - USABLE_FOR < kept.read_at <= now:
            return None
        start, end = day_bounds(key[1], zone)
        users = bisect_right(kept.first_moments, _micros(window.cutoff))
        return ListCount(users=users, day_start=start, day_end=end, late_writes=kept.late_writes)

    def forget(self, window: PaceWindow, zone: ZoneInfo) -> None:
        """Drop the list of `window`'s day (it missed a late write): read again at the next refresh."""
        self._days.pop(_key(zone, window.start), None)

    async def refresh(self, engine: AsyncEngine, now: datetime, zone: ZoneInfo, *, most_days: int = 1) -> None:
        """Read the lists that are due (missing or `REFRESH_AFTER` old) for the days pace compares
        with now and after the next midnight, at most `most_days` of them (each is a query over a
        whole day: ~0.5 s at the 1 M bench size, so one per snapshot), and drop every other day's."""
        wanted = _days_wanted(now, zone)
        self._days = {key: kept for key, kept in self._days.items() if key in wanted}
        due = sorted(
            (key for key in wanted if key not in self._days or now - self._days[key].read_at >= REFRESH_AFTER),
            key=lambda key: (key in self._days, self._days[key].read_at if key in self._days else now),
        )[:most_days]
        for key in due:
            start, end = day_bounds(key[1], zone)
            async with engine.connect() as conn:
                # Late writes first: one that commits between the two statements is in the list
                # and makes the next comparison differ (a needless plain count, never a miss).
                writes = int((await conn.execute(select(late_writes(start, end)))).scalar_one())
                moments = await day_first_moments(conn, start, end, self.max_users + 1)
            if len(moments) > self.max_users:
                log.warning("pace: over %d users on %s; that day is counted plainly", self.max_users, key[1])
                self._days[key] = _DayList(read_at=now, first_moments=None, late_writes=writes)
            else:
                self._days[key] = _DayList(read_at=now, first_moments=array("q", sorted(moments)), late_writes=writes)

    def days_kept(self) -> list[_DayKey]:
        return sorted(self._days)


def _key(zone: ZoneInfo, day_start: datetime) -> _DayKey:
    return (str(zone), day_start.astimezone(zone).date())


def _days_wanted(now: datetime, zone: ZoneInfo) -> set[_DayKey]:
    """The days pace compares with at `now`, and at `now + REFRESH_AFTER` when a midnight falls between."""
    return {_key(zone, window.start) for moment in (now, now + REFRESH_AFTER) for window in pace_windows(moment, zone)}
