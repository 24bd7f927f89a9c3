"""The contract's definitions as pure arithmetic: period boundaries, the conversion rate, the snapshot.

Every expected instant below is written out by hand in UTC, from the zone's offset on that date,
so that a test never checks the code against itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.metrics import (
    MetricInputs,
    Periods,
    cents_to_money,
    compute_snapshot,
    conversion_rate,
    encode,
    format_timestamp,
    mark_stale,
    period_starts,
)

AUCKLAND = ZoneInfo("Pacific/Auckland")  # NZST +12, NZDT +13
LOS_ANGELES = ZoneInfo("America/Los_Angeles")  # PST -8, PDT -7
MICROSECOND = timedelta(microseconds=1)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def inputs(**overrides: int) -> MetricInputs:
    """The spec's example numbers, with some fields replaced."""
    values = {
        "revenue_total_cents": 12_500_050,
        "revenue_today_cents": 542_000,
        "revenue_week_cents": 3_210_000,
        "revenue_month_cents": 9_850_000,
        "active_current": 42,
        "active_today": 1250,
        "pending": 12,
        "completed": 5380,
        "failed": 28,
        "total_views": 125_000,
        "peak_seen_24h": 89,
        "pace_revenue_yesterday_cents": 410_000,
        "pace_revenue_last_week_cents": 390_000,
        "pace_active_yesterday": 1100,
        "pace_active_last_week": 1180,
    }
    return MetricInputs(**{**values, **overrides})


def typed_leaves(value: Any, path: str = "") -> list[tuple[str, str, str]]:
    """(path, type, repr) of every leaf: equal only if values, types and Decimal exponents all match."""
    if isinstance(value, dict):
        return [leaf for key in value for leaf in typed_leaves(value[key], f"{path}.{key}")]
    return [(path, type(value).__name__, repr(value))]


# --- period_starts: day ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "now", "day_start"),
    [
        # Auckland, NZDT (+13): local midnight of Fri 2026-11-27 is 2026-11-26 11:00 UTC.
        (AUCKLAND, utc(2026, 11, 26, 10, 59, 59, 999_999), utc(2026, 11, 25, 11)),
        (AUCKLAND, utc(2026, 11, 26, 11), utc(2026, 11, 26, 11)),
        (AUCKLAND, utc(2026, 11, 26, 11, 0, 0, 1), utc(2026, 11, 26, 11)),
        # Los Angeles, PST (-8): local midnight of 2026-11-27 is 2026-11-27 08:00 UTC.
        (LOS_ANGELES, utc(2026, 11, 27, 7, 59, 59, 999_999), utc(2026, 11, 26, 8)),
        (LOS_ANGELES, utc(2026, 11, 27, 8), utc(2026, 11, 27, 8)),
        # Los Angeles, PDT (-7) in summer.
        (LOS_ANGELES, utc(2026, 7, 15, 6, 59, 59), utc(2026, 7, 14, 7)),
        (LOS_ANGELES, utc(2026, 7, 15, 7), utc(2026, 7, 15, 7)),
    ],
    ids=[
        "auckland-1us-before-midnight",
        "auckland-at-midnight",
        "auckland-1us-after-midnight",
        "la-1us-before-midnight",
        "la-at-midnight",
        "la-summer-1s-before-midnight",
        "la-summer-at-midnight",
    ],
)
def test_day_starts_at_local_midnight(zone: ZoneInfo, now: datetime, day_start: datetime) -> None:
    assert period_starts(now, zone).day_start == day_start


def test_period_starts_are_utc_instants_whatever_zone_now_carries() -> None:
    in_auckland = datetime(2026, 11, 27, 9, 30, tzinfo=AUCKLAND)
    periods = period_starts(in_auckland, AUCKLAND)
    assert periods == period_starts(in_auckland.astimezone(UTC), AUCKLAND)
    assert periods == Periods(
        day_start=utc(2026, 11, 26, 11), week_start=utc(2026, 11, 22, 11), month_start=utc(2026, 10, 31, 11)
    )
    assert periods.day_start.utcoffset() == timedelta(0)


# --- period_starts: ISO week from Monday 00:00 local ---------------------------------------------


def test_week_on_sunday_235959_local_started_the_previous_monday() -> None:
    # Sun 2026-11-29 23:59:59 NZDT = 10:59:59 UTC; the week began Mon 2026-11-23 00:00 NZDT.
    periods = period_starts(utc(2026, 11, 29, 10, 59, 59), AUCKLAND)
    assert periods.week_start == utc(2026, 11, 22, 11)
    assert periods.day_start == utc(2026, 11, 28, 11)


def test_week_on_monday_000000_local_starts_that_instant() -> None:
    # Mon 2026-11-30 00:00:00 NZDT = 2026-11-29 11:00 UTC (still Sunday in UTC).
    now = utc(2026, 11, 29, 11)
    periods = period_starts(now, AUCKLAND)
    assert periods.week_start == now
    assert periods.day_start == now


def test_week_start_in_los_angeles_sunday_night_versus_monday_midnight() -> None:
    # Sun 2026-11-29 23:59:59 PST = Mon 07:59:59 UTC: the week still began Mon 2026-11-23 00:00 PST.
    assert period_starts(utc(2026, 11, 30, 7, 59, 59), LOS_ANGELES).week_start == utc(2026, 11, 23, 8)
    # Mon 2026-11-30 00:00:00 PST = 08:00 UTC: a new week.
    assert period_starts(utc(2026, 11, 30, 8), LOS_ANGELES).week_start == utc(2026, 11, 30, 8)


def test_week_that_began_before_the_dst_change_keeps_its_old_offset() -> None:
    # Sun 2026-04-05 is Auckland's DST end; its week began Mon 2026-03-30 00:00 NZDT (+13).
    periods = period_starts(utc(2026, 4, 5, 11, 59, 59), AUCKLAND)
    assert periods.week_start == utc(2026, 3, 29, 11)


# --- period_starts: month from the 1st --------------------------------------------------------------


def test_month_starts_on_the_first_at_local_midnight() -> None:
    # Tue 2026-12-01 00:00 NZDT = 2026-11-30 11:00 UTC.
    assert period_starts(utc(2026, 11, 30, 11), AUCKLAND).month_start == utc(2026, 11, 30, 11)
    # 1 µs earlier it is still November, which began 2026-11-01 00:00 NZDT = 2026-10-31 11:00 UTC.
    assert period_starts(utc(2026, 11, 30, 10, 59, 59, 999_999), AUCKLAND).month_start == utc(2026, 10, 31, 11)


def test_month_that_began_before_a_dst_change_in_los_angeles() -> None:
    # November 2026 began 00:00 PDT (-7), before the 02:00 fall-back that same day; now is PST.
    assert period_starts(utc(2026, 11, 30, 20), LOS_ANGELES).month_start == utc(2026, 11, 1, 7)
    # December began 00:00 PST (-8).
    assert period_starts(utc(2026, 12, 1, 8), LOS_ANGELES).month_start == utc(2026, 12, 1, 8)
    assert period_starts(utc(2026, 12, 1, 7, 59, 59, 999_999), LOS_ANGELES).month_start == utc(2026, 11, 1, 7)


def test_new_year_starts_a_new_month_and_keeps_the_iso_week() -> None:
    # Fri 2027-01-01 00:00 NZDT = 2026-12-31 11:00 UTC; that ISO week began Mon 2026-12-28.
    periods = period_starts(utc(2026, 12, 31, 11), AUCKLAND)
    assert periods == Periods(
        day_start=utc(2026, 12, 31, 11), week_start=utc(2026, 12, 27, 11), month_start=utc(2026, 12, 31, 11)
    )


# --- period_starts: days with a daylight-saving change ----------------------------------------------


def test_auckland_dst_end_day_lasts_25_hours() -> None:
    # Sun 2026-04-05: 03:00 NZDT (+13) becomes 02:00 NZST (+12).
    last_instant = utc(2026, 4, 5, 11, 59, 59, 999_999)  # 23:59:59.999999 NZST
    first_of_next = utc(2026, 4, 5, 12)  # Mon 2026-04-06 00:00 NZST
    day_start = period_starts(last_instant, AUCKLAND).day_start
    next_day_start = period_starts(first_of_next, AUCKLAND).day_start
    assert day_start == utc(2026, 4, 4, 11)  # 00:00 NZDT
    assert next_day_start == first_of_next
    assert next_day_start - day_start == timedelta(hours=25)


def test_auckland_repeated_hour_belongs_to_the_same_day() -> None:
    first_0230 = datetime(2026, 4, 5, 2, 30, tzinfo=AUCKLAND, fold=0)  # NZDT, 2026-04-04 13:30 UTC
    second_0230 = datetime(2026, 4, 5, 2, 30, tzinfo=AUCKLAND, fold=1)  # NZST, 2026-04-04 14:30 UTC
    assert first_0230.astimezone(UTC) == utc(2026, 4, 4, 13, 30)
    assert second_0230.astimezone(UTC) == utc(2026, 4, 4, 14, 30)
    assert period_starts(first_0230, AUCKLAND).day_start == utc(2026, 4, 4, 11)
    assert period_starts(second_0230, AUCKLAND).day_start == utc(2026, 4, 4, 11)


def test_auckland_dst_start_day_lasts_23_hours() -> None:
    # Sun 2026-09-27: 02:00 NZST (+12) becomes 03:00 NZDT (+13).
    last_instant = utc(2026, 9, 27, 10, 59, 59, 999_999)  # 23:59:59.999999 NZDT
    first_of_next = utc(2026, 9, 27, 11)  # Mon 2026-09-28 00:00 NZDT
    day_start = period_starts(last_instant, AUCKLAND).day_start
    next_day_start = period_starts(first_of_next, AUCKLAND).day_start
    assert day_start == utc(2026, 9, 26, 12)  # 00:00 NZST
    assert next_day_start == first_of_next
    assert next_day_start - day_start == timedelta(hours=23)
    # The week of 2026-09-27 began Mon 2026-09-21 00:00 NZST, its month Tue 2026-09-01 00:00 NZST.
    periods = period_starts(last_instant, AUCKLAND)
    assert periods.week_start == utc(2026, 9, 20, 12)
    assert periods.month_start == utc(2026, 8, 31, 12)


def test_los_angeles_dst_days_last_23_and_25_hours() -> None:
    # Sun 2026-03-08 springs forward at 02:00 PST; Sun 2026-11-01 falls back at 02:00 PDT.
    spring = period_starts(utc(2026, 3, 9, 6, 59, 59), LOS_ANGELES).day_start  # 23:59:59 PDT
    after_spring = period_starts(utc(2026, 3, 9, 7), LOS_ANGELES).day_start  # Mon 00:00 PDT
    assert (spring, after_spring) == (utc(2026, 3, 8, 8), utc(2026, 3, 9, 7))
    assert after_spring - spring == timedelta(hours=23)
    fall = period_starts(utc(2026, 11, 2, 7, 59, 59), LOS_ANGELES).day_start  # 23:59:59 PST
    after_fall = period_starts(utc(2026, 11, 2, 8), LOS_ANGELES).day_start  # Mon 00:00 PST
    assert (fall, after_fall) == (utc(2026, 11, 1, 7), utc(2026, 11, 2, 8))
    assert after_fall - fall == timedelta(hours=25)


# --- conversion_rate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purchases", "views", "rate"),
    [
        (0, 0, "0.00"),
        (5, 0, "0.00"),
        (0, 10, "0.00"),
        (1, 800, "0.13"),  # 0.125: a tie, rounded half-up
        (1, 20_000, "0.01"),  # 0.005: a tie at the smallest step
        (1, 20_001, "0.00"),  # just under the tie
        (43, 1000, "4.30"),
        (5380, 125_000, "4.30"),  # the spec's example: 4.304
        (1, 3, "33.33"),
        (2, 3, "66.67"),
        (3, 8, "37.50"),
        (7, 7, "100.00"),
    ],
)
def test_conversion_rate_is_rounded_half_up_to_cents(purchases: int, views: int, rate: str) -> None:
    result = conversion_rate(purchases, views)
    assert isinstance(result, Decimal)
    assert str(result) == rate


# --- money -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "money"),
    [(0, "0.00"), (1, "0.01"), (10, "0.10"), (12_500_050, "125000.50"), (999_999_999_999, "9999999999.99")],
)
def test_cents_become_decimal_money_with_two_places(cents: int, money: str) -> None:
    assert str(cents_to_money(cents)) == money


def test_money_sums_beyond_one_transaction_limit_stay_exact() -> None:
    assert str(cents_to_money(3 * 999_999_999_999)) == "29999999999.97"


# --- compute_snapshot --------------------------------------------------------------------------------


def test_snapshot_has_the_contract_shape_values_and_types() -> None:
    now = utc(2025, 11, 4, 10, 30, 0, 123_456)
    snapshot = compute_snapshot(inputs(), now, 7)
    expected = {
        "revenue": {
            "total": Decimal("125000.50"),
            "today": Decimal("5420.00"),
            "thisWeek": Decimal("32100.00"),
            "thisMonth": Decimal("98500.00"),
        },
        "activeUsers": {"current": 42, "today": 1250, "peak24h": 89},
        "transactions": {"total": 5420, "pending": 12, "completed": 5380, "failed": 28},
        "content": {"totalViews": 125_000, "totalPurchases": 5380, "conversionRate": Decimal("4.30")},
        "timestamp": "2025-11-04T10:30:00.123Z",
        "snapshotId": 7,
        "stale": False,
        "pace": {
            "revenue": {"yesterday": Decimal("4100.00"), "lastWeek": Decimal("3900.00")},
            "activeUsers": {"yesterday": 1100, "lastWeek": 1180},
        },
    }
    assert snapshot == expected
    assert typed_leaves(snapshot) == typed_leaves(expected)  # same keys in the same order, same types


def test_snapshot_of_an_empty_database_is_all_zeros() -> None:
    zero = dict.fromkeys(inputs().__dataclass_fields__, 0)
    snapshot = compute_snapshot(MetricInputs(**zero), utc(2026, 1, 1), 1)
    expected = {
        "revenue": {k: Decimal("0.00") for k in ("total", "today", "thisWeek", "thisMonth")},
        "activeUsers": {"current": 0, "today": 0, "peak24h": 0},
        "transactions": {"total": 0, "pending": 0, "completed": 0, "failed": 0},
        "content": {"totalViews": 0, "totalPurchases": 0, "conversionRate": Decimal("0.00")},
        "timestamp": "2026-01-01T00:00:00.000Z",
        "snapshotId": 1,
        "stale": False,
        "pace": {
            "revenue": {"yesterday": Decimal("0.00"), "lastWeek": Decimal("0.00")},
            "activeUsers": {"yesterday": 0, "lastWeek": 0},
        },
    }
    assert typed_leaves(snapshot) == typed_leaves(expected)


@pytest.mark.parametrize(
    ("peak_seen", "current", "peak24h"),
    [(89, 42, 89), (5, 7, 7), (0, 3, 3), (7, 7, 7)],
    ids=["peak-above-current", "current-above-seen-peak", "no-peak-seen", "equal"],
)
def test_peak24h_is_never_below_current(peak_seen: int, current: int, peak24h: int) -> None:
    snapshot = compute_snapshot(inputs(peak_seen_24h=peak_seen, active_current=current), utc(2026, 1, 1), 1)
    assert snapshot["activeUsers"] == {"current": current, "today": 1250, "peak24h": peak24h}


def test_transactions_total_is_the_sum_and_purchases_are_the_completed() -> None:
    snapshot = compute_snapshot(inputs(pending=3, completed=11, failed=5, total_views=40), utc(2026, 1, 1), 1)
    assert snapshot["transactions"] == {"total": 19, "pending": 3, "completed": 11, "failed": 5}
    assert snapshot["content"] == {"totalViews": 40, "totalPurchases": 11, "conversionRate": Decimal("27.50")}


@pytest.mark.parametrize(
    ("now", "timestamp"),
    [
        (utc(2025, 11, 4, 10, 30), "2025-11-04T10:30:00.000Z"),
        (utc(2025, 11, 4, 10, 30, 0, 999_999), "2025-11-04T10:30:00.999Z"),  # truncated, never rounded up
        (utc(2025, 11, 4, 10, 30, 5, 1_000), "2025-11-04T10:30:05.001Z"),
        (datetime(2026, 11, 27, 0, 0, 0, 250_000, tzinfo=AUCKLAND), "2026-11-26T11:00:00.250Z"),
    ],
    ids=["whole-second", "last-microsecond", "one-millisecond", "local-time-shown-in-utc"],
)
def test_timestamp_is_utc_with_milliseconds_and_z(now: datetime, timestamp: str) -> None:
    assert format_timestamp(now) == timestamp
    assert compute_snapshot(inputs(), now, 1)["timestamp"] == timestamp


def test_snapshot_id_and_stale_flag_are_carried_through() -> None:
    fresh = compute_snapshot(inputs(), utc(2026, 1, 1), 12_345)
    stale = compute_snapshot(inputs(), utc(2026, 1, 1), 12_345, stale=True)
    assert (fresh["snapshotId"], fresh["stale"]) == (12_345, False)
    assert (stale["snapshotId"], stale["stale"]) == (12_345, True)
    assert mark_stale(fresh) == stale
    assert fresh["stale"] is False  # mark_stale copies, it does not change the snapshot it is given


# --- encode ------------------------------------------------------------------------------------------


def test_encode_writes_money_as_exact_json_numbers() -> None:
    assert encode({"total": Decimal("125000.50")}) == b'{"total":125000.50}'
    assert encode({"total": cents_to_money(999_999_999_999)}) == b'{"total":9999999999.99}'
    assert encode({"total": cents_to_money(0)}) == b'{"total":0.00}'


def test_encoded_snapshot_is_the_spec_example_byte_for_byte() -> None:
    encoded = encode(compute_snapshot(inputs(), utc(2025, 11, 4, 10, 30), 7))
    assert encoded == (
        b'{"revenue":{"total":125000.50,"today":5420.00,"thisWeek":32100.00,"thisMonth":98500.00},'
        b'"activeUsers":{"current":42,"today":1250,"peak24h":89},'
        b'"transactions":{"total":5420,"pending":12,"completed":5380,"failed":28},'
        b'"content":{"totalViews":125000,"totalPurchases":5380,"conversionRate":4.30},'
        b'"timestamp":"2025-11-04T10:30:00.000Z","snapshotId":7,"stale":false,'
        b'"pace":{"revenue":{"yesterday":4100.00,"lastWeek":3900.00},"activeUsers":{"yesterday":1100,"lastWeek":1180}}}'
    )
    decoded = json.loads(encoded, parse_float=Decimal)
    assert decoded["revenue"]["total"] == Decimal("125000.50")
    assert decoded["content"]["conversionRate"] == Decimal("4.30")


def test_the_largest_snapshot_fits_the_1_kb_update_budget() -> None:
    """Every figure at its widest (money up to numeric(12,2) summed far beyond, counts in the
    billions, the longest id): the snapshot and the socket's envelope stay within 1 KB."""
    widest = {name: 999_999_999_999_999 for name in inputs().__dataclass_fields__}
    snapshot = compute_snapshot(MetricInputs(**widest), utc(9999, 12, 31, 23, 59, 59, 999_999), 2**63 - 1, stale=True)
    message = b'{"type":"metrics","data":' + encode(snapshot) + b"}"
    assert len(message) <= 1024, len(message)
