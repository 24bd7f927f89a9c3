"""Pace windows as pure arithmetic: for a `now` and a zone, the stretch of yesterday and of the same
weekday last week that matches today so far (CONTRACT.md, `pace`).

Every expected instant is written out by hand in UTC from the zone's offset on that date, so that
a test never checks the code against itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.metrics import PaceWindow, pace_window, pace_windows

BERLIN = ZoneInfo("Europe/Berlin")  # CET +1, CEST +2; 2026: forward 29 March 02:00, back 25 October 03:00
AUCKLAND = ZoneInfo("Pacific/Auckland")  # NZST +12, NZDT +13; 2026: back 5 April 03:00, forward 27 September 02:00
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # +14 all year: its days begin before anyone else's


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def test_berlin_spring_forward_yesterday_cuts_off_at_the_jump() -> None:
    # Now: Mon 2026-03-30 02:30 CEST = 00:30 UTC. Yesterday (Sun 29 March) had no 02:30: the clocks
    # went from 02:00 CET to 03:00 CEST at 01:00 UTC. Its midnight was 00:00 CET = 28 March 23:00 UTC.
    now = utc(2026, 3, 30, 0, 30)
    assert pace_window(now, BERLIN, 1) == PaceWindow(start=utc(2026, 3, 28, 23), cutoff=utc(2026, 3, 29, 1))
    # Last week, Mon 23 March (CET): midnight 22 March 23:00 UTC, 02:30 CET = 01:30 UTC.
    assert pace_window(now, BERLIN, 7) == PaceWindow(start=utc(2026, 3, 22, 23), cutoff=utc(2026, 3, 23, 1, 30))


def test_berlin_spring_forward_jump_is_exact_to_the_microsecond() -> None:
    # 02:59:59.999999 on 30 March (00:59:59.999999 UTC) does not exist on 29 March either.
    now = utc(2026, 3, 30, 0, 59, 59, 999_999)
    assert pace_window(now, BERLIN, 1).cutoff == utc(2026, 3, 29, 1)
    # 03:00 CEST exists on both days: 01:00 UTC on 30 March, 01:00 UTC on 29 March too.
    assert pace_window(utc(2026, 3, 30, 1), BERLIN, 1).cutoff == utc(2026, 3, 29, 1)
    # 01:59:59 CEST on 30 March (= 23:59:59 UTC on 29 March) is 01:59:59 CET = 00:59:59 UTC on the 29th.
    assert pace_window(utc(2026, 3, 29, 23, 59, 59), BERLIN, 1).cutoff == utc(2026, 3, 29, 0, 59, 59)


def test_berlin_fall_back_yesterday_cuts_off_at_the_first_occurrence() -> None:
    # Now: Mon 2026-10-26 02:30 CET = 01:30 UTC. On Sun 25 October 02:30 came twice: first in CEST
    # (00:30 UTC), then in CET (01:30 UTC). Midnight of the 25th was 00:00 CEST = 24 October 22:00 UTC.
    now = utc(2026, 10, 26, 1, 30)
    assert pace_window(now, BERLIN, 1) == PaceWindow(start=utc(2026, 10, 24, 22), cutoff=utc(2026, 10, 25, 0, 30))
    # Last week, Mon 19 October (CEST): midnight 18 October 22:00 UTC, 02:30 CEST = 00:30 UTC.
    assert pace_window(now, BERLIN, 7) == PaceWindow(start=utc(2026, 10, 18, 22), cutoff=utc(2026, 10, 19, 0, 30))


def test_on_the_fall_back_day_itself_the_second_occurrence_compares_with_the_plain_time() -> None:
    # Now: Sun 25 October, the second 02:30 (CET) = 01:30 UTC. Yesterday (Sat 24th, CEST) had one
    # 02:30, at 00:30 UTC; its midnight was 23 October 22:00 UTC.
    now = utc(2026, 10, 25, 1, 30)
    assert pace_window(now, BERLIN, 1) == PaceWindow(start=utc(2026, 10, 23, 22), cutoff=utc(2026, 10, 24, 0, 30))


def test_day_after_a_23_hour_day_starts_at_that_days_midnight() -> None:
    # Now: Mon 30 March 23:30 CEST = 21:30 UTC. Sunday 29 March ran 23 hours, from 28 March 23:00
    # UTC; its 23:30 CEST is 21:30 UTC.
    now = utc(2026, 3, 30, 21, 30)
    assert pace_window(now, BERLIN, 1) == PaceWindow(start=utc(2026, 3, 28, 23), cutoff=utc(2026, 3, 29, 21, 30))


def test_kiritimati_monday_compares_with_sunday_and_last_monday() -> None:
    # Now: Mon 2026-11-30 10:00 at +14 = Sun 29 November 20:00 UTC (still Sunday in UTC).
    now = utc(2026, 11, 29, 20)
    yesterday, last_week = pace_windows(now, KIRITIMATI)
    # Sun 29 November local: midnight = 28 November 10:00 UTC, 10:00 local = 28 November 20:00 UTC.
    assert yesterday == PaceWindow(start=utc(2026, 11, 28, 10), cutoff=utc(2026, 11, 28, 20))
    # Mon 23 November local: midnight = 22 November 10:00 UTC, 10:00 local = 22 November 20:00 UTC.
    assert last_week == PaceWindow(start=utc(2026, 11, 22, 10), cutoff=utc(2026, 11, 22, 20))


def test_auckland_monday_after_spring_forward_cuts_yesterday_off_at_the_jump() -> None:
    # Now: Mon 2026-09-28 02:30 NZDT (+13) = Sun 27 September 13:30 UTC. On Sun 27 September the
    # clocks went from 02:00 NZST to 03:00 NZDT at 14:00 UTC on the 26th: 02:30 did not exist.
    now = utc(2026, 9, 27, 13, 30)
    yesterday, last_week = pace_windows(now, AUCKLAND)
    # Midnight of the 27th: 00:00 NZST = 26 September 12:00 UTC.
    assert yesterday == PaceWindow(start=utc(2026, 9, 26, 12), cutoff=utc(2026, 9, 26, 14))
    # Mon 21 September (NZST): midnight 20 September 12:00 UTC, 02:30 = 20 September 14:30 UTC.
    assert last_week == PaceWindow(start=utc(2026, 9, 20, 12), cutoff=utc(2026, 9, 20, 14, 30))


def test_auckland_monday_after_fall_back_takes_the_first_0230() -> None:
    # Now: Mon 2026-04-06 02:30 NZST (+12) = Sun 5 April 14:30 UTC. On Sun 5 April 02:30 came first
    # in NZDT (+13: 4 April 13:30 UTC), then in NZST (14:30 UTC). Midnight of the 5th: 00:00 NZDT =
    # 4 April 11:00 UTC.
    now = utc(2026, 4, 5, 14, 30)
    assert pace_window(now, AUCKLAND, 1) == PaceWindow(start=utc(2026, 4, 4, 11), cutoff=utc(2026, 4, 4, 13, 30))


@pytest.mark.parametrize(
    ("now", "yesterday", "last_week"),
    [
        # Exactly local midnight: each window is the single instant of that day's midnight.
        (utc(2026, 11, 26, 23), (utc(2026, 11, 25, 23),) * 2, (utc(2026, 11, 19, 23),) * 2),
        # A microsecond before midnight: the whole of the day but its last microsecond.
        (
            utc(2026, 11, 26, 22, 59, 59, 999_999),
            (utc(2026, 11, 24, 23), utc(2026, 11, 25, 22, 59, 59, 999_999)),
            (utc(2026, 11, 18, 23), utc(2026, 11, 19, 22, 59, 59, 999_999)),
        ),
        # A second after midnight.
        (
            utc(2026, 11, 26, 23, 0, 1),
            (utc(2026, 11, 25, 23), utc(2026, 11, 25, 23, 0, 1)),
            (utc(2026, 11, 19, 23), utc(2026, 11, 19, 23, 0, 1)),
        ),
    ],
    ids=["midnight", "just-before-midnight", "just-after-midnight"],
)
def test_around_local_midnight_in_berlin_winter(
    now: datetime, yesterday: tuple[datetime, datetime], last_week: tuple[datetime, datetime]
) -> None:
    assert pace_windows(now, BERLIN) == (PaceWindow(*yesterday), PaceWindow(*last_week))


def test_in_utc_the_windows_are_plain_day_arithmetic() -> None:
    now = utc(2026, 11, 27, 10, 15, 30, 250_000)
    yesterday, last_week = pace_windows(now, ZoneInfo("UTC"))
    assert yesterday == PaceWindow(utc(2026, 11, 26), now - timedelta(days=1))
    assert last_week == PaceWindow(utc(2026, 11, 20), now - timedelta(days=7))


def test_windows_are_utc_whatever_zone_now_carries() -> None:
    now = datetime(2026, 3, 30, 2, 30, tzinfo=BERLIN)  # the same instant as 00:30 UTC
    window = pace_window(now, BERLIN, 1)
    assert window == PaceWindow(start=utc(2026, 3, 28, 23), cutoff=utc(2026, 3, 29, 1))
    assert window.start.tzinfo is UTC and window.cutoff.tzinfo is UTC
