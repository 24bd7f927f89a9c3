"""Pace's first-moment lists (`server.storage.pace_users`): a binary search per day equals the
plain distinct count; when a list is not usable the caller is told so; a row written into a past
day after its list was read (inserted, moved to another user, deleted, a TRUNCATE) counts at the
very next read, which counts that day plainly and drops the list; a write on time is not late;
memory stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.metrics import PaceWindow, pace_windows
from server.storage.maintenance import FOLD_AT, maintain_derived
from server.storage.pace_inputs import PaceInputs, read_pace_inputs
from server.storage.pace_users import USABLE_FOR, PaceUsers
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


def _users(lists: PaceUsers, window: PaceWindow, now: datetime = NOW) -> int:
    counted = lists.count(window, UTC_ZONE, now)
    assert counted is not None, f"no usable list for {window}"
    return counted.users


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
        assert _users(lists, window) == await _plain(engine, window)
    assert _users(lists, PaceWindow(start=day, cutoff=day + timedelta(hours=12))) == 3


async def _read(engine: AsyncEngine, lists: PaceUsers, now: datetime = NOW) -> PaceInputs:
    """What the snapshot's read says with these lists, dropping those that missed a late write."""
    windows = pace_windows(now, UTC_ZONE)
    async with engine.begin() as conn:
        read = await read_pace_inputs(
            conn, windows, (lists.count(windows[0], UTC_ZONE, now), lists.count(windows[1], UTC_ZONE, now))
        )
    for window in read.outdated_lists:
        lists.forget(window, UTC_ZONE)
    return read


async def test_a_late_row_counts_at_the_next_read(engine: AsyncEngine) -> None:
    yesterday, last_week = pace_windows(NOW, UTC_ZONE)
    await _activity(engine, "early", yesterday.start + timedelta(minutes=1))
    lists = PaceUsers()
    await lists.refresh(engine, NOW, UTC_ZONE, most_days=4)
    assert (await _read(engine, lists)).outdated_lists == ()
    await _activity(engine, "late", yesterday.start + timedelta(hours=1))
    assert _users(lists, yesterday) == 1  # the list alone has not seen it
    read = await _read(engine, lists)
    assert read.active_yesterday == 2 == await _plain(engine, yesterday)  # the read has
    assert read.outdated_lists == (yesterday,)  # counted plainly; last week's list still good
    assert lists.count(yesterday, UTC_ZONE, NOW) is None and lists.count(last_week, UTC_ZONE, NOW) is not None
    await lists.refresh(engine, NOW, UTC_ZONE)  # the dropped day first
    assert _users(lists, yesterday) == 2
    assert (await _read(engine, lists)).outdated_lists == ()


async def _execute(engine: AsyncEngine, statement: str, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(statement), values)


async def test_a_late_move_or_delete_counts_at_the_next_read(engine: AsyncEngine) -> None:
    yesterday, _ = pace_windows(NOW, UTC_ZONE)
    await _activity(engine, "a", yesterday.start + timedelta(hours=1))
    await _activity(engine, "b", yesterday.start + timedelta(hours=2))
    lists = PaceUsers()
    await lists.refresh(engine, NOW, UTC_ZONE, most_days=4)
    await _execute(engine, "UPDATE user_activity SET user_id = 'a' WHERE user_id = 'b'")  # b's moment is a's now
    read = await _read(engine, lists)
    assert (read.active_yesterday, read.outdated_lists) == (1, (yesterday,))
    await lists.refresh(engine, NOW, UTC_ZONE)
    await _execute(
        engine, "UPDATE user_activity SET at = :at", at=_db_time(engine, yesterday.cutoff + timedelta(hours=1))
    )
    read = await _read(engine, lists)  # moved after the cut-off: nobody by then
    assert (read.active_yesterday, read.outdated_lists) == (0, (yesterday,))
    await lists.refresh(engine, NOW, UTC_ZONE)
    await _execute(engine, "UPDATE user_activity SET at = :at", at=_db_time(engine, yesterday.start))
    read = await _read(engine, lists)  # moved back: counted plainly once more
    assert (read.active_yesterday, read.outdated_lists) == (1, (yesterday,))
    await lists.refresh(engine, NOW, UTC_ZONE)  # a list read after the write is right as it is
    read = await _read(engine, lists)
    assert (read.active_yesterday, read.outdated_lists, _users(lists, yesterday)) == (1, (), 1)
    await _execute(engine, "DELETE FROM user_activity")
    read = await _read(engine, lists)
    assert (read.active_yesterday, read.outdated_lists) == (0, (yesterday,))


async def test_a_late_transaction_or_view_counts_at_the_next_read(engine: AsyncEngine) -> None:
    yesterday, _ = pace_windows(NOW, UTC_ZONE)
    lists = PaceUsers()
    await lists.refresh(engine, NOW, UTC_ZONE, most_days=4)
    at = _db_time(engine, yesterday.start + timedelta(minutes=30))
    await _execute(
        engine,
        "INSERT INTO transactions (id, user_id, amount, currency, status, created_at) "
        "VALUES ('t-late', 'buyer', 5, 'USD', 'pending', :at)",
        at=at,
    )
    read = await _read(engine, lists)
    assert (read.active_yesterday, read.outdated_lists) == (1, (yesterday,))
    await lists.refresh(engine, NOW, UTC_ZONE)
    await _execute(engine, "UPDATE transactions SET status = 'completed'")  # its new moments are now's: not late
    assert (await _read(engine, lists)).outdated_lists == ()
    await _execute(
        engine, "INSERT INTO content_views (content_id, user_id, viewed_at) VALUES ('c', 'viewer', :at)", at=at
    )
    read = await _read(engine, lists)
    assert (read.active_yesterday, read.outdated_lists) == (2, (yesterday,))
    await lists.refresh(engine, NOW, UTC_ZONE)
    await _execute(engine, "INSERT INTO content_views (content_id, viewed_at) VALUES ('c', :at)", at=at)
    assert (await _read(engine, lists)).outdated_lists == ()  # a view without a user is nobody's activity


async def test_writes_on_time_are_not_late(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    await _activity(engine, "now", now)
    await _activity(engine, "this morning", now - timedelta(hours=19))
    await _activity(engine, "yesterday", now - timedelta(hours=21))
    async with engine.connect() as conn:
        written = (
            await conn.execute(
                text("SELECT sum(writes) FROM late_activity WHERE hour > :h"),
                {"h": _db_time(engine, now - timedelta(days=2))},
            )
        ).scalar_one()
    assert written == 1


async def test_emptying_a_table_counts_for_every_day(engine: AsyncEngine) -> None:
    """PostgreSQL's TRUNCATE counts at the hour that stands for all; SQLite's DELETE without WHERE
    runs the row triggers (its truncate shortcut is off for a table with triggers)."""
    yesterday, last_week = pace_windows(NOW, UTC_ZONE)
    await _activity(engine, "a", yesterday.start)
    await _activity(engine, "b", last_week.start)
    lists = PaceUsers()
    await lists.refresh(engine, NOW, UTC_ZONE, most_days=4)
    empty = "TRUNCATE user_activity" if engine.dialect.name == "postgresql" else "DELETE FROM user_activity"
    await _execute(engine, empty)
    read = await _read(engine, lists)
    assert (read.active_yesterday, read.active_last_week) == (0, 0)
    assert set(read.outdated_lists) == {yesterday, last_week}


async def test_the_maintenance_s_fold_keeps_every_day_s_late_writes(engine: AsyncEngine) -> None:
    yesterday, _ = pace_windows(NOW, UTC_ZONE)
    for minute in range(FOLD_AT + 1):  # a statement each: as many rows on PostgreSQL
        await _activity(engine, f"u-{minute}", yesterday.start + timedelta(minutes=minute))
    lists = PaceUsers()
    await lists.refresh(engine, NOW, UTC_ZONE, most_days=4)
    await maintain_derived(engine, NOW, UTC_ZONE)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT count(*) FROM late_activity WHERE NOT folded"))).scalar_one()
    assert rows == (0 if engine.dialect.name == "postgresql" else 2)  # SQLite: one row per hour, never folded
    read = await _read(engine, lists)
    assert (read.active_yesterday, read.outdated_lists) == (FOLD_AT + 1, ())


async def test_no_usable_list_says_so(engine: AsyncEngine) -> None:
    yesterday, last_week = pace_windows(NOW, UTC_ZONE)
    lists = PaceUsers()
    assert lists.count(yesterday, UTC_ZONE, NOW) is None  # nothing read yet
    await lists.refresh(engine, NOW, UTC_ZONE)  # one day per call: yesterday's and last week's, in some order
    assert [lists.count(window, UTC_ZONE, NOW) is None for window in (yesterday, last_week)].count(True) == 1
    await lists.refresh(engine, NOW, UTC_ZONE)
    assert _users(lists, yesterday) == _users(lists, last_week) == 0
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
