"""Pace's first-moment lists (`server.storage.pace_users`): a binary search per day equals the
plain distinct count; when a list is not usable the caller is told so; a row written into a past
day afterwards counts once its day is re-read (the documented bound); memory stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.metrics import PaceWindow, pace_windows
from server.storage.pace_users import REFRESH_AFTER, USABLE_FOR, PaceUsers
from server.storage.queries import _active_users

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # yesterday's window: 29 Nov 00:00 to 12:00 UTC


def _db_time(engine: AsyncEngine, moment: datetime) -> Any:
    return str(moment.replace(tzinfo=None)) if engine.dialect.name == "sqlite" else moment


async def _activity(engine: AsyncEngine, user: str, at: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO user_activity (user_id, at) VALUES (:u, :at)"), {"u": user, "at": _db_time(engine, at)}
        )


async def _plain(engine: AsyncEngine, window: PaceWindow) -> int:
    async with engine.connect() as conn:
        count = _active_users(window.start, window.cutoff, exclusive_start=False)
        return int((await conn.execute(select(count))).scalar_one())


async def test_counts_equal_the_plain_count_at_every_cutoff_of_the_day(engine: AsyncEngine) -> None:
    day = datetime(2026, 11, 29, tzinfo=UTC)
    moments = [day, day + timedelta(hours=3), day + timedelta(hours=12), day + timedelta(hours=12, microseconds=1)]
    for index, moment in enumerate(moments):
        await _activity(engine, f"u-{index}", moment)
    await _activity(engine, "u-0", day + timedelta(hours=1))  # a second moment: counted once, from its first
    await _activity(engine, "u-9", day - timedelta(microseconds=1))  # the day before: never
    lists = PaceUsers()
    await lists.refresh(engine, NOW, UTC_ZONE, most_days=4)
    for cutoff in [day, day + timedelta(hours=2), *moments, day + timedelta(hours=23, minutes=59)]:
        window = PaceWindow(start=day, cutoff=cutoff)
        assert lists.count(window, UTC_ZONE, NOW) == await _plain(engine, window)
    assert lists.count(PaceWindow(start=day, cutoff=day + timedelta(hours=12)), UTC_ZONE, NOW) == 3


async def test_a_late_row_counts_once_its_day_is_re_read(engine: AsyncEngine) -> None:
    yesterday, _ = pace_windows(NOW, UTC_ZONE)
    lists = PaceUsers()
    await lists.refresh(engine, NOW, UTC_ZONE, most_days=4)
    await _activity(engine, "late", yesterday.start + timedelta(hours=1))
    assert lists.count(yesterday, UTC_ZONE, NOW) == 0  # written after the read: not yet
    await lists.refresh(engine, NOW + REFRESH_AFTER - timedelta(seconds=1), UTC_ZONE, most_days=4)
    assert lists.count(yesterday, UTC_ZONE, NOW) == 0  # not due yet
    later = NOW + REFRESH_AFTER
    await lists.refresh(engine, later, UTC_ZONE, most_days=4)  # every due day
    later_yesterday, _ = pace_windows(later, UTC_ZONE)
    assert lists.count(later_yesterday, UTC_ZONE, later) == 1


async def test_no_usable_list_says_so(engine: AsyncEngine) -> None:
    yesterday, last_week = pace_windows(NOW, UTC_ZONE)
    lists = PaceUsers()
    assert lists.count(yesterday, UTC_ZONE, NOW) is None  # nothing read yet
    await lists.refresh(engine, NOW, UTC_ZONE)  # one day per call: yesterday's and last week's, in some order
    assert [lists.count(window, UTC_ZONE, NOW) is None for window in (yesterday, last_week)].count(True) == 1
    await lists.refresh(engine, NOW, UTC_ZONE)
    assert lists.count(yesterday, UTC_ZONE, NOW) == lists.count(last_week, UTC_ZONE, NOW) == 0
    assert lists.count(yesterday, UTC_ZONE, NOW + USABLE_FOR) is None  # too old
    assert lists.count(yesterday, UTC_ZONE, NOW - timedelta(seconds=1)) is None  # read after that `now`
    assert lists.count(yesterday, ZoneInfo("Europe/Berlin"), NOW) is None  # another zone's day


async def test_a_day_over_the_cap_is_left_to_the_plain_count(engine: AsyncEngine) -> None:
    yesterday, _ = pace_windows(NOW, UTC_ZONE)
    for user in ("a", "b", "c"):
        await _activity(engine, user, yesterday.start + timedelta(minutes=5))
    lists = PaceUsers(max_users=2)
    await lists.refresh(engine, NOW, UTC_ZONE, most_days=4)
    assert lists.count(yesterday, UTC_ZONE, NOW) is None
    assert await _plain(engine, yesterday) == 3


async def test_days_kept_are_now_s_two_and_after_midnight_two_more(engine: AsyncEngine) -> None:
    lists = PaceUsers()
    await lists.refresh(engine, NOW, UTC_ZONE, most_days=4)
    day = NOW.date()
    assert lists.days_kept() == [("UTC", day - timedelta(days=7)), ("UTC", day - timedelta(days=1))]
    before_midnight = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    await lists.refresh(engine, before_midnight, UTC_ZONE, most_days=4)
    assert lists.days_kept() == [("UTC", day - timedelta(days=n)) for n in (7, 6, 1, 0)]
    after_midnight = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    await lists.refresh(engine, after_midnight, UTC_ZONE, most_days=4)
    assert lists.days_kept() == [("UTC", day - timedelta(days=6)), ("UTC", day)]
