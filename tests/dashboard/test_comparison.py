"""The History page's comparison arithmetic: which buckets are compared with which, checked in UTC.

Europe/Berlin enters daylight saving on Sun 2026-03-29 (02:00 CET becomes 03:00 CEST at 01:00 UTC,
a 23-hour day) and leaves it on Sun 2026-10-25 (03:00 CEST becomes 02:00 CET at 01:00 UTC, a 25-hour
day). Before the change Berlin is UTC+1 in winter, UTC+2 in summer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dashboard.comparison import (
    BUCKET_LIMIT,
    Comparison,
    NotBegun,
    Span,
    compare_days,
    compare_last_minutes,
    describe,
)
from server.analytics.buckets import TooManyBuckets
from server.analytics.params import MAX_BUCKETS

BERLIN = "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def bounds(span: Span) -> tuple[datetime, datetime, int]:
    return span.start, span.end, span.count


def check_whole_and_apart(comparison: Comparison) -> None:
    """Both periods are unbroken runs of as many buckets, and the previous ends where the current begins."""
    for span in (comparison.current, comparison.previous):
        assert all(a.end == b.start for a, b in zip(span.edges, span.edges[1:], strict=False))
    assert comparison.previous.count == comparison.current.count
    assert comparison.previous.end == comparison.current.start


def test_the_limit_is_the_sidecars() -> None:
    assert BUCKET_LIMIT == MAX_BUCKETS


# --- days -------------------------------------------------------------------------------------------


def test_the_23_hour_spring_day_is_one_day_against_the_day_before() -> None:
    comparison = compare_days(date(2026, 3, 29), date(2026, 3, 29), "day", BERLIN, utc("2026-04-01 12:00"))
    check_whole_and_apart(comparison)
    # Sun 29 Mar 00:00 CET (+1) to Mon 30 Mar 00:00 CEST (+2): 23 hours.
    assert bounds(comparison.current) == (utc("2026-03-28 23:00"), utc("2026-03-29 22:00"), 1)
    assert bounds(comparison.previous) == (utc("2026-03-27 23:00"), utc("2026-03-28 23:00"), 1)
    assert comparison.begun == 1 and not comparison.in_progress and not comparison.under_way


def test_two_days_from_the_25_hour_autumn_day_against_the_two_before() -> None:
    comparison = compare_days(date(2026, 10, 25), date(2026, 10, 26), "day", BERLIN, utc("2026-11-01 12:00"))
    check_whole_and_apart(comparison)
    # Sun 25 Oct 00:00 CEST (+2) to Tue 27 Oct 00:00 CET (+1): 25 + 24 hours.
    assert bounds(comparison.current) == (utc("2026-10-24 22:00"), utc("2026-10-26 23:00"), 2)
    assert bounds(comparison.previous) == (utc("2026-10-22 22:00"), utc("2026-10-24 22:00"), 2)


def test_a_range_that_ends_today_counts_today_as_begun() -> None:
    comparison = compare_days(date(2026, 11, 1), date(2026, 11, 30), "day", BERLIN, utc("2026-11-30 09:15"))
    assert comparison.begun == 30 and not comparison.in_progress and comparison.under_way
    assert comparison.so_far == comparison.current and comparison.previous_so_far == comparison.previous
    assert bounds(comparison.previous) == (utc("2026-10-01 22:00"), utc("2026-10-31 23:00"), 30)


# --- hours and minutes ------------------------------------------------------------------------------


def test_the_spring_day_has_23_hours_against_the_23_hours_before() -> None:
    comparison = compare_days(date(2026, 3, 29), date(2026, 3, 29), "hour", BERLIN, utc("2026-04-01 12:00"))
    check_whole_and_apart(comparison)
    assert bounds(comparison.current) == (utc("2026-03-28 23:00"), utc("2026-03-29 22:00"), 23)
    # 23 hours back from Sun 00:00 CET: Sat 28 Mar 01:00 CET.
    assert bounds(comparison.previous) == (utc("2026-03-28 00:00"), utc("2026-03-28 23:00"), 23)
    assert [b.start for b in comparison.current.edges[1:3]] == [utc("2026-03-29 00:00"), utc("2026-03-29 01:00")]
    assert comparison.local_starts()[1:3] == [datetime(2026, 3, 29, 1), datetime(2026, 3, 29, 3)]  # no 02:00


def test_the_autumn_day_has_25_hours_and_today_stops_at_the_hour_under_way() -> None:
    # At 14:20 CET on the 25-hour day: its hours up to 14:00-15:00 have begun (3 of them before 03:00 CET
    # are summer hours, and 02:00 comes twice), the ten after it have not.
    now = utc("2026-10-25 13:20")
    comparison = compare_days(date(2026, 10, 25), date(2026, 10, 25), "hour", BERLIN, now)
    check_whole_and_apart(comparison)
    assert bounds(comparison.current) == (utc("2026-10-24 22:00"), utc("2026-10-25 23:00"), 25)
    assert bounds(comparison.previous) == (utc("2026-10-23 21:00"), utc("2026-10-24 22:00"), 25)  # Fri 23:00 CEST
    assert comparison.begun == 16 and comparison.in_progress and comparison.under_way
    assert bounds(comparison.so_far) == (utc("2026-10-24 22:00"), utc("2026-10-25 14:00"), 16)
    assert bounds(comparison.previous_so_far) == (utc("2026-10-23 21:00"), utc("2026-10-24 13:00"), 16)
    assert comparison.local_starts()[2:5] == [
        datetime(2026, 10, 25, 2),
        datetime(2026, 10, 25, 2),
        datetime(2026, 10, 25, 3),
    ]


def test_the_last_hour_of_minutes_across_the_autumn_change() -> None:
    # 02:07:30 CET, the second pass of 02:00: the minute under way is the last of the 15.
    comparison = compare_last_minutes("15m", BERLIN, utc("2026-10-25 01:07:30"))
    check_whole_and_apart(comparison)
    assert bounds(comparison.current) == (utc("2026-10-25 00:53"), utc("2026-10-25 01:08"), 15)
    assert bounds(comparison.previous) == (utc("2026-10-25 00:38"), utc("2026-10-25 00:53"), 15)
    assert comparison.begun == 15 and not comparison.in_progress and comparison.under_way
    assert describe(comparison.current, "minute", BERLIN) == "Oct 25, 2026 02:53 CEST – 02:08 CET"


def test_minutes_across_the_spring_change() -> None:
    comparison = compare_last_minutes("1h", BERLIN, utc("2026-03-29 01:02:10"))  # 03:02 CEST
    check_whole_and_apart(comparison)
    assert bounds(comparison.current) == (utc("2026-03-29 00:03"), utc("2026-03-29 01:03"), 60)
    assert bounds(comparison.previous) == (utc("2026-03-28 23:03"), utc("2026-03-29 00:03"), 60)
    assert describe(comparison.current, "minute", BERLIN) == "Mar 29, 2026 01:03 CET – 03:03 CEST"
    assert describe(comparison.previous, "minute", BERLIN) == "Mar 29, 2026 00:03 – 01:03"


def test_every_minute_window_fits_the_sidecars_limit() -> None:
    for window in ("15m", "1h", "3h", "6h", "12h"):
        comparison = compare_last_minutes(window, BERLIN, utc("2026-11-03 10:00:00"))
        assert comparison.current.count <= BUCKET_LIMIT


# --- weeks and months -------------------------------------------------------------------------------


def test_weeks_widen_to_mondays_and_the_previous_weeks_end_where_they_begin() -> None:
    # Wed 25 Mar - Thu 2 Apr: the weeks of Mon 23 Mar (00:00 CET) and Mon 30 Mar (00:00 CEST).
    comparison = compare_days(date(2026, 3, 25), date(2026, 4, 2), "week", BERLIN, utc("2026-04-10 12:00"))
    check_whole_and_apart(comparison)
    assert bounds(comparison.current) == (utc("2026-03-22 23:00"), utc("2026-04-05 22:00"), 2)
    assert bounds(comparison.previous) == (utc("2026-03-08 23:00"), utc("2026-03-22 23:00"), 2)
    assert describe(comparison.current, "week", BERLIN) == "Mar 23 – Apr 5, 2026"
    assert describe(comparison.previous, "week", BERLIN) == "Mar 9 – Mar 22, 2026"


def test_a_week_still_to_come_is_left_out_and_the_totals_compare_one_week_with_one() -> None:
    comparison = compare_days(date(2026, 3, 25), date(2026, 4, 2), "week", BERLIN, utc("2026-03-28 12:00"))
    assert comparison.begun == 1 and comparison.in_progress
    assert bounds(comparison.so_far) == (utc("2026-03-22 23:00"), utc("2026-03-29 22:00"), 1)
    assert bounds(comparison.previous_so_far) == (utc("2026-03-08 23:00"), utc("2026-03-15 23:00"), 1)
    # Saturday 13:00 CET, five days into its week: the previous week's Saturday, 13:00 CET.
    assert comparison.cut == utc("2026-03-14 12:00")


def test_months_never_share_a_month() -> None:
    # The case: Nov 5 - Dec 4 by month is November and December, against September and October.
    comparison = compare_days(date(2026, 11, 5), date(2026, 12, 4), "month", BERLIN, utc("2026-12-04 13:00"))
    check_whole_and_apart(comparison)
    assert bounds(comparison.current) == (utc("2026-10-31 23:00"), utc("2026-12-31 23:00"), 2)
    assert bounds(comparison.previous) == (utc("2026-08-31 22:00"), utc("2026-10-31 23:00"), 2)  # holds Oct 25
    assert describe(comparison.current, "month", BERLIN) == "Nov 1 – Dec 31, 2026"
    assert describe(comparison.previous, "month", BERLIN) == "Sep 1 – Oct 31, 2026"


def test_a_month_under_way_is_compared_with_the_first_month_of_the_previous_period() -> None:
    comparison = compare_days(date(2026, 10, 1), date(2026, 11, 30), "month", BERLIN, utc("2026-10-25 12:00"))
    assert bounds(comparison.current) == (utc("2026-09-30 22:00"), utc("2026-11-30 23:00"), 2)
    assert bounds(comparison.previous) == (utc("2026-07-31 22:00"), utc("2026-09-30 22:00"), 2)
    assert comparison.begun == 1
    assert bounds(comparison.so_far) == (utc("2026-09-30 22:00"), utc("2026-10-31 23:00"), 1)
    assert bounds(comparison.previous_so_far) == (utc("2026-07-31 22:00"), utc("2026-08-31 22:00"), 1)
    # Oct 25, 13:00 CET (after the change) against Aug 25, 13:00 CEST: the same date and wall clock.
    assert comparison.cut == utc("2026-08-25 11:00")


def test_four_days_of_december_are_set_against_the_first_four_of_november() -> None:
    # The walk's case: the month under way against the previous month to the same day and minute.
    comparison = compare_days(date(2026, 11, 5), date(2026, 12, 4), "month", BERLIN, utc("2026-12-04 19:23"))
    assert comparison.under_way and comparison.partial and comparison.begun == 2
    assert comparison.cut == utc("2026-10-04 18:23")  # Oct 4, 20:23 CEST: the previous period's 2nd month


def test_the_same_point_of_a_shorter_month_is_its_end() -> None:
    # Mar 31, 10:00 against February: no Feb 31, so all of February.
    comparison = compare_days(date(2026, 3, 1), date(2026, 3, 31), "month", "UTC", utc("2026-03-31 10:00"))
    assert comparison.previous_so_far.end == utc("2026-03-01 00:00") and comparison.cut == utc("2026-03-01 00:00")


def test_a_time_the_clocks_skipped_is_the_instant_of_the_jump() -> None:
    # Mon Mar 30, 02:30 CEST against Sun Mar 29, which had no 02:30: cut where the clocks jumped.
    comparison = compare_days(date(2026, 3, 30), date(2026, 3, 30), "day", BERLIN, utc("2026-03-30 00:30"))
    assert comparison.cut == utc("2026-03-29 01:00")
    # Mon Oct 26, 02:30 CET against Sun Oct 25, which had 02:30 twice: its first occurrence (CEST).
    comparison = compare_days(date(2026, 10, 26), date(2026, 10, 26), "day", BERLIN, utc("2026-10-26 01:30"))
    assert comparison.cut == utc("2026-10-25 00:30")


def test_hours_and_minutes_under_way_are_cut_after_as_much_time() -> None:
    hours = compare_days(date(2026, 12, 4), date(2026, 12, 4), "hour", "UTC", utc("2026-12-04 10:20:30"))
    assert hours.begun == 11 and hours.cut == utc("2026-12-03 10:20:30")
    minutes = compare_last_minutes("15m", "UTC", utc("2026-12-04 10:20:30"))
    assert minutes.cut == minutes.previous.edges[-1].start + (
        utc("2026-12-04 10:20:30") - minutes.current.edges[-1].start
    )


def test_whole_buckets_have_no_cut() -> None:
    comparison = compare_days(date(2026, 11, 1), date(2026, 11, 30), "day", BERLIN, utc("2026-12-04 12:00"))
    assert not comparison.partial and comparison.cut is None


def test_months_across_a_year_end_are_named_with_both_years() -> None:
    comparison = compare_days(date(2026, 12, 10), date(2027, 1, 10), "month", BERLIN, utc("2027-03-01 00:00"))
    assert describe(comparison.current, "month", BERLIN) == "Dec 1, 2026 – Jan 31, 2027"
    assert describe(comparison.previous, "month", BERLIN) == "Oct 1 – Nov 30, 2026"


# --- refusals ---------------------------------------------------------------------------------------


def test_a_range_past_the_limit_is_refused_before_asking() -> None:
    with pytest.raises(TooManyBuckets):
        compare_days(date(2026, 1, 1), date(2026, 2, 11), "hour", BERLIN, utc("2026-03-01 00:00"))  # 42 days
    assert (
        compare_days(date(2026, 1, 1), date(2026, 2, 10), "hour", BERLIN, utc("2026-03-01 00:00")).current.count == 984
    )


def test_a_range_wholly_after_now_has_nothing_to_compare() -> None:
    with pytest.raises(NotBegun):
        compare_days(date(2026, 12, 1), date(2026, 12, 2), "day", BERLIN, utc("2026-11-30 22:59:59"))


def test_a_last_day_before_the_first_is_refused() -> None:
    with pytest.raises(ValueError, match="before the first"):
        compare_days(date(2026, 12, 2), date(2026, 12, 1), "day", BERLIN, utc("2026-12-05 00:00"))
