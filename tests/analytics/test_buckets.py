"""`buckets()`: local-calendar bucket edges, pure, checked to the second in UTC.

Pacific/Auckland leaves daylight saving on Sun 2026-04-05 (03:00 NZDT becomes 02:00 NZST, a 25-hour
day) and enters it on Sun 2026-09-27 (02:00 NZST becomes 03:00 NZDT, a 23-hour day). Asia/Kolkata
(+05:30) and Asia/Kathmandu (+05:45) put local hours off the UTC hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from server.analytics.buckets import INTERVALS, Bucket, Interval, TooManyBuckets, buckets, buckets_before

AUCKLAND = ZoneInfo("Pacific/Auckland")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")
KOLKATA = ZoneInfo("Asia/Kolkata")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
LIMIT = 1000
MICROSECOND = timedelta(microseconds=1)


def utc(text: str) -> datetime:
    """`"2026-04-04 11:00"` -> that instant in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def spans(*edges: str) -> list[tuple[datetime, datetime]]:
    """Consecutive buckets from a list of UTC edges."""
    points = [utc(e) for e in edges]
    return list(pairwise(points))


def edges_of(result: list[Bucket]) -> list[tuple[datetime, datetime]]:
    for bucket in result:
        assert bucket.start.utcoffset() == timedelta(0) and bucket.end.utcoffset() == timedelta(0)
    return [(b.start, b.end) for b in result]


def local_starts(result: list[Bucket], zone: ZoneInfo) -> list[str]:
    return [b.start.astimezone(zone).strftime("%Y-%m-%d %H:%M%z") for b in result]


def local(zone: ZoneInfo, *fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=zone, fold=fold)


# --- days ---------------------------------------------------------------------------------------------


def test_days_around_the_25_hour_day_when_auckland_leaves_dst() -> None:
    result = buckets(local(AUCKLAND, 2026, 4, 3, 15), local(AUCKLAND, 2026, 4, 7), "day", AUCKLAND, LIMIT)
    assert edges_of(result) == spans(
        "2026-04-02 11:00",  # Fri 3 Apr 00:00 NZDT (+13)
        "2026-04-03 11:00",  # Sat 4 Apr 00:00 NZDT
        "2026-04-04 11:00",  # Sun 5 Apr 00:00 NZDT
        "2026-04-05 12:00",  # Mon 6 Apr 00:00 NZST (+12): Sunday lasted 25 hours
        "2026-04-06 12:00",  # Tue 7 Apr 00:00 NZST
    )
    assert [b.end - b.start for b in result] == [timedelta(hours=h) for h in (24, 24, 25, 24)]
    assert local_starts(result, AUCKLAND) == [
        "2026-04-03 00:00+1300",
        "2026-04-04 00:00+1300",
        "2026-04-05 00:00+1300",
        "2026-04-06 00:00+1200",
    ]


def test_days_around_the_23_hour_day_when_auckland_enters_dst() -> None:
    result = buckets(local(AUCKLAND, 2026, 9, 26), local(AUCKLAND, 2026, 9, 29), "day", AUCKLAND, LIMIT)
    assert edges_of(result) == spans(
        "2026-09-25 12:00",  # Sat 26 Sep 00:00 NZST (+12)
        "2026-09-26 12:00",  # Sun 27 Sep 00:00 NZST
        "2026-09-27 11:00",  # Mon 28 Sep 00:00 NZDT (+13): Sunday lasted 23 hours
        "2026-09-28 11:00",
    )
    assert [b.end - b.start for b in result] == [timedelta(hours=h) for h in (24, 23, 24)]


def test_a_day_whose_midnight_is_skipped_begins_at_the_jump() -> None:
    # America/Santiago: Sun 2026-09-06 00:00 -04 becomes 01:00 -03; that day begins at 04:00 UTC.
    result = buckets(local(SANTIAGO, 2026, 9, 5, 12), local(SANTIAGO, 2026, 9, 7), "day", SANTIAGO, LIMIT)
    assert edges_of(result) == spans("2026-09-05 04:00", "2026-09-06 04:00", "2026-09-07 03:00")
    assert local_starts(result, SANTIAGO) == ["2026-09-05 00:00-0400", "2026-09-06 01:00-0300"]


def test_days_in_half_hour_and_45_minute_offset_zones() -> None:
    kolkata = buckets(local(KOLKATA, 2026, 3, 10, 10, 45), local(KOLKATA, 2026, 3, 12), "day", KOLKATA, LIMIT)
    assert edges_of(kolkata) == spans("2026-03-09 18:30", "2026-03-10 18:30", "2026-03-11 18:30")
    kathmandu = buckets(
        local(KATHMANDU, 2026, 3, 10, 0, 1), local(KATHMANDU, 2026, 3, 11, 0, 1), "day", KATHMANDU, LIMIT
    )
    assert edges_of(kathmandu) == spans("2026-03-09 18:15", "2026-03-10 18:15", "2026-03-11 18:15")


# --- weeks --------------------------------------------------------------------------------------------


def test_weeks_begin_on_monday_at_local_midnight() -> None:
    # Wed 2026-04-01 10:00 NZDT is in the week of Mon 2026-03-30; that week holds the 25-hour Sunday.
    result = buckets(local(AUCKLAND, 2026, 4, 1, 10), local(AUCKLAND, 2026, 4, 20), "week", AUCKLAND, LIMIT)
    assert edges_of(result) == spans("2026-03-29 11:00", "2026-04-05 12:00", "2026-04-12 12:00", "2026-04-19 12:00")
    assert [b.end - b.start for b in result] == [timedelta(days=7, hours=1), timedelta(days=7), timedelta(days=7)]
    for bucket in result:
        start = bucket.start.astimezone(AUCKLAND)
        assert (start.weekday(), start.hour, start.minute) == (0, 0, 0)


def test_sunday_just_before_midnight_belongs_to_the_week_before() -> None:
    monday = local(AUCKLAND, 2026, 4, 13)
    before = buckets(monday - MICROSECOND, monday + timedelta(hours=1), "week", AUCKLAND, LIMIT)
    assert edges_of(before) == spans("2026-04-05 12:00", "2026-04-12 12:00", "2026-04-19 12:00")
    at = buckets(monday, monday + timedelta(hours=1), "week", AUCKLAND, LIMIT)
    assert edges_of(at) == spans("2026-04-12 12:00", "2026-04-19 12:00")


# --- months -------------------------------------------------------------------------------------------


def test_months_across_january_31_and_a_leap_february() -> None:
    start = local(AUCKLAND, 2028, 1, 31, 12)
    result = buckets(start, local(AUCKLAND, 2028, 3, 1), "month", AUCKLAND, LIMIT)
    # 2028-01-01, 02-01 and 03-01 00:00 NZDT (+13)
    assert edges_of(result) == spans("2027-12-31 11:00", "2028-01-31 11:00", "2028-02-29 11:00")
    assert result[1].end - result[1].start == timedelta(days=29)
    # One microsecond into March brings in the whole of March, to Sat 2028-04-01 00:00 NZDT.
    longer = buckets(start, local(AUCKLAND, 2028, 3, 1) + MICROSECOND, "month", AUCKLAND, LIMIT)
    assert edges_of(longer) == spans("2027-12-31 11:00", "2028-01-31 11:00", "2028-02-29 11:00", "2028-03-31 11:00")


def test_a_common_february_and_a_month_with_a_dst_change() -> None:
    result = buckets(local(AUCKLAND, 2026, 1, 31), local(AUCKLAND, 2026, 4, 30), "month", AUCKLAND, LIMIT)
    # Jan, Feb (28 days), Mar, and April, which is 30 days and 1 hour long (DST ends on the 5th).
    assert edges_of(result) == spans(
        "2025-12-31 11:00", "2026-01-31 11:00", "2026-02-28 11:00", "2026-03-31 11:00", "2026-04-30 12:00"
    )
    assert result[1].end - result[1].start == timedelta(days=28)
    assert result[3].end - result[3].start == timedelta(days=30, hours=1)
    # New York, leap 2028: March has 31 days less one hour (DST begins on the 12th).
    ny = buckets(local(NEW_YORK, 2028, 2, 10), local(NEW_YORK, 2028, 3, 31), "month", NEW_YORK, LIMIT)
    assert edges_of(ny) == spans("2028-02-01 05:00", "2028-03-01 05:00", "2028-04-01 04:00")


def test_december_rolls_over_into_january() -> None:
    result = buckets(local(AUCKLAND, 2026, 12, 15), local(AUCKLAND, 2027, 1, 2), "month", AUCKLAND, LIMIT)
    assert edges_of(result) == spans("2026-11-30 11:00", "2026-12-31 11:00", "2027-01-31 11:00")
    assert local_starts(result, AUCKLAND) == ["2026-12-01 00:00+1300", "2027-01-01 00:00+1300"]


# --- hours and minutes --------------------------------------------------------------------------------


def test_the_repeated_hour_of_a_fall_back_day_is_two_buckets() -> None:
    result = buckets(local(AUCKLAND, 2026, 4, 5, 1), local(AUCKLAND, 2026, 4, 5, 4), "hour", AUCKLAND, LIMIT)
    assert edges_of(result) == spans(
        "2026-04-04 12:00", "2026-04-04 13:00", "2026-04-04 14:00", "2026-04-04 15:00", "2026-04-04 16:00"
    )
    assert local_starts(result, AUCKLAND) == [
        "2026-04-05 01:00+1300",
        "2026-04-05 02:00+1300",
        "2026-04-05 02:00+1200",
        "2026-04-05 03:00+1200",
    ]


def test_a_start_inside_the_repeated_hour_begins_at_that_pass_of_the_hour() -> None:
    end = local(AUCKLAND, 2026, 4, 5, 3)  # 03:00 NZST, 15:00 UTC
    first_pass = local(AUCKLAND, 2026, 4, 5, 2, 40)  # 02:40 NZDT, 13:40 UTC
    second_pass = local(AUCKLAND, 2026, 4, 5, 2, 40, fold=1)  # 02:40 NZST, 14:40 UTC
    assert edges_of(buckets(first_pass, end, "hour", AUCKLAND, LIMIT)) == spans(
        "2026-04-04 13:00", "2026-04-04 14:00", "2026-04-04 15:00"
    )
    # The same instants given in UTC or as local times with fold=1 give the same buckets.
    for start in (second_pass, second_pass.astimezone(UTC)):
        assert edges_of(buckets(start, end, "hour", AUCKLAND, LIMIT)) == spans("2026-04-04 14:00", "2026-04-04 15:00")
        minutes = buckets(start, utc("2026-04-04 14:42"), "minute", AUCKLAND, LIMIT)
        assert edges_of(minutes) == spans("2026-04-04 14:40", "2026-04-04 14:41", "2026-04-04 14:42")


def test_the_skipped_hour_of_a_spring_forward_day_has_no_bucket() -> None:
    result = buckets(local(AUCKLAND, 2026, 9, 27), local(AUCKLAND, 2026, 9, 27, 5), "hour", AUCKLAND, LIMIT)
    assert edges_of(result) == spans(
        "2026-09-26 12:00", "2026-09-26 13:00", "2026-09-26 14:00", "2026-09-26 15:00", "2026-09-26 16:00"
    )
    assert local_starts(result, AUCKLAND) == [
        "2026-09-27 00:00+1200",
        "2026-09-27 01:00+1200",
        "2026-09-27 03:00+1300",
        "2026-09-27 04:00+1300",
    ]


def test_hours_follow_the_local_clock_in_half_hour_and_45_minute_zones() -> None:
    kolkata = buckets(local(KOLKATA, 2026, 3, 10, 10, 45), local(KOLKATA, 2026, 3, 10, 12), "hour", KOLKATA, LIMIT)
    assert edges_of(kolkata) == spans("2026-03-10 04:30", "2026-03-10 05:30", "2026-03-10 06:30")
    kathmandu = buckets(
        local(KATHMANDU, 2026, 3, 10, 10, 50), local(KATHMANDU, 2026, 3, 10, 12, 1), "hour", KATHMANDU, LIMIT
    )
    assert edges_of(kathmandu) == spans("2026-03-10 04:15", "2026-03-10 05:15", "2026-03-10 06:15", "2026-03-10 07:15")
    assert local_starts(kathmandu, KATHMANDU) == [
        "2026-03-10 10:00+0545",
        "2026-03-10 11:00+0545",
        "2026-03-10 12:00+0545",
    ]


def test_minutes_drop_seconds_and_microseconds() -> None:
    start = local(KATHMANDU, 2026, 3, 10, 10, 50, 30, 500000)
    result = buckets(start, start + timedelta(minutes=1), "minute", KATHMANDU, LIMIT)
    assert edges_of(result) == spans("2026-03-10 05:05", "2026-03-10 05:06", "2026-03-10 05:07")


# --- the range ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "first_start", "last_end"),
    [
        ("minute", "2026-04-08 03:12", "2026-04-08 04:13"),  # 15:12 .. 16:13 NZST
        ("hour", "2026-04-08 03:00", "2026-04-08 05:00"),
        ("day", "2026-04-07 12:00", "2026-04-08 12:00"),  # Wed 8 Apr
        ("week", "2026-04-05 12:00", "2026-04-12 12:00"),  # Mon 6 Apr
        ("month", "2026-03-31 11:00", "2026-04-30 12:00"),  # April
    ],
)
def test_the_first_bucket_begins_at_the_start_of_the_local_period_containing_start(
    interval: Interval, first_start: str, last_end: str
) -> None:
    start = local(AUCKLAND, 2026, 4, 8, 15, 12, 42, 123456)  # Wed, NZST
    result = buckets(start, start + timedelta(hours=1), interval, AUCKLAND, LIMIT)
    assert result[0].start == utc(first_start) <= start
    assert result[-1].end == utc(last_end) >= start + timedelta(hours=1)
    assert all(a.end == b.start for a, b in pairwise(result))


@pytest.mark.parametrize("interval", INTERVALS)
def test_a_start_on_a_boundary_is_the_first_bucket_start(interval: Interval) -> None:
    start = local(AUCKLAND, 2026, 6, 1)  # Mon 1 June 00:00 NZST: a minute, hour, day, week and month boundary
    result = buckets(start, start + MICROSECOND, interval, AUCKLAND, LIMIT)
    assert len(result) == 1 and result[0].start == start


def test_the_limit_allows_exactly_that_many_buckets() -> None:
    start = utc("2026-04-01 00:00")
    assert len(buckets(start, start + timedelta(minutes=LIMIT), "minute", UTC, LIMIT)) == LIMIT
    with pytest.raises(TooManyBuckets) as raised:
        buckets(start, start + timedelta(minutes=LIMIT, microseconds=1), "minute", UTC, LIMIT)
    assert (raised.value.count, raised.value.limit) == (LIMIT + 1, LIMIT)
    assert "1000" in str(raised.value)
    with pytest.raises(TooManyBuckets):
        buckets(start, start + timedelta(days=1), "minute", KOLKATA, LIMIT)


@pytest.mark.parametrize("delta", [timedelta(0), -MICROSECOND, -timedelta(days=1)])
def test_an_end_not_after_the_start_is_refused(delta: timedelta) -> None:
    start = utc("2026-04-01 00:00")
    with pytest.raises(ValueError, match="after"):
        buckets(start, start + delta, "day", AUCKLAND, LIMIT)


# --- buckets_before ---------------------------------------------------------------------------------


def test_days_before_the_25_hour_day_step_back_a_local_day_each() -> None:
    end = local(AUCKLAND, 2026, 4, 6)  # Mon 6 Apr 00:00 NZST (+12)
    result = buckets_before(end, 3, "day", AUCKLAND)
    assert edges_of(result) == spans("2026-04-02 11:00", "2026-04-03 11:00", "2026-04-04 11:00", "2026-04-05 12:00")


def test_hours_before_the_end_of_the_fall_back_day_count_the_repeated_hour_twice() -> None:
    end = local(AUCKLAND, 2026, 4, 5, 4)  # 04:00 NZST; 02:00-03:00 came twice before it
    result = buckets_before(end, 4, "hour", AUCKLAND)
    assert edges_of(result) == spans(
        "2026-04-04 12:00", "2026-04-04 13:00", "2026-04-04 14:00", "2026-04-04 15:00", "2026-04-04 16:00"
    )
    assert local_starts(result, AUCKLAND) == [
        "2026-04-05 01:00+1300",
        "2026-04-05 02:00+1300",
        "2026-04-05 02:00+1200",
        "2026-04-05 03:00+1200",
    ]


def test_months_before_step_over_short_months_and_the_year_end() -> None:
    end = local(AUCKLAND, 2027, 3, 1)  # Mon 1 Mar 2027 00:00 NZDT
    result = buckets_before(end, 3, "month", AUCKLAND)
    assert local_starts(result, AUCKLAND) == ["2026-12-01 00:00+1300", "2027-01-01 00:00+1300", "2027-02-01 00:00+1300"]
    assert result[-1].end == end


def test_weeks_before_end_on_the_given_monday_and_none_is_empty() -> None:
    end = local(AUCKLAND, 2026, 9, 28)  # Mon 28 Sep 00:00 NZDT, the day after the spring change
    result = buckets_before(end, 2, "week", AUCKLAND)
    assert local_starts(result, AUCKLAND) == ["2026-09-14 00:00+1200", "2026-09-21 00:00+1200"]
    assert result[-1].end == end
    assert buckets_before(end, 0, "week", AUCKLAND) == []
    with pytest.raises(ValueError, match="negative"):
        buckets_before(end, -1, "week", AUCKLAND)
