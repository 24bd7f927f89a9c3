"""Pure metric arithmetic: counts, sums and `now` in, the snapshot out. No I/O, no clock reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import simplejson

from server.money import cents_to_money, percent

ACTIVE_WINDOW = timedelta(seconds=300)
PEAK_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Periods:
    """UTC instants where the current local day, ISO week (Monday) and month began."""

    day_start: datetime
    week_start: datetime
    month_start: datetime


def _local_midnight(day: datetime, zone: ZoneInfo) -> datetime:
    # fold=0 picks the first of two midnights, and a midnight skipped by a DST jump resolves to
    # the instant of the jump: in both cases the first instant that carries that date.
    return datetime.combine(day.date(), time(0), tzinfo=zone).astimezone(UTC)


def period_starts(now: datetime, zone: ZoneInfo) -> Periods:
    local = now.astimezone(zone)
    return Periods(
        day_start=_local_midnight(local, zone),
        week_start=_local_midnight(local - timedelta(days=local.weekday()), zone),
        month_start=_local_midnight(local.replace(day=1), zone),
    )


@dataclass(frozen=True)
class PaceWindow:
    """The part of an earlier local day that matches today so far: UTC instants `[start, cutoff]`,
    closed at both ends like today's `[day_start, now]`."""

    start: datetime
    cutoff: datetime


PACE_DAYS_BACK = {"yesterday": 1, "lastWeek": 7}


def pace_window(now: datetime, zone: ZoneInfo, days_back: int) -> PaceWindow:
    """The local day `days_back` days before `now`'s, from its local midnight to `now`'s local
    wall-clock time on that day. Where that time does not exist that day (clocks jumped forward
    over it), the cut-off is the instant of the jump; where it occurs twice, its first occurrence."""
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=days_back)
    cutoff = wall_clock_instant(datetime.combine(day, local.time()), zone)
    return PaceWindow(start=_local_midnight(local - timedelta(days=days_back), zone), cutoff=cutoff)


def wall_clock_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a naive local reading `wall` names in `zone`: its first occurrence where it
    occurs twice, the instant the clocks jumped where they jumped over it."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # fold=0: the first of a repeated time
    if first.astimezone(zone).replace(tzinfo=None) != wall:
        return _jump_instant(wall, zone)
    return first


def _jump_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant the clocks jumped over the non-existent local time `wall`.

    Read with the offset before the jump (fold=0) `wall` lands after the jump, read with the
    offset after it (fold=1) before it: the jump is the first instant in between that carries the
    later offset, found by halving (transitions fall on whole seconds; this finds the microsecond).
    """
    after_jump = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    before_jump = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    later_offset = after_jump.astimezone(zone).utcoffset()
    low, high = before_jump, after_jump  # the offset at `low` is the earlier one, at `high` the later
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == later_offset:
            high = middle
        else:
            low = middle
    return high


def pace_windows(now: datetime, zone: ZoneInfo) -> tuple[PaceWindow, PaceWindow]:
    """Yesterday's and the same weekday last week's windows, in that order."""
    return pace_window(now, zone, PACE_DAYS_BACK["yesterday"]), pace_window(now, zone, PACE_DAYS_BACK["lastWeek"])


@dataclass(frozen=True)
class MetricInputs:
    """What the database says at one instant; money in integer cents."""

    revenue_total_cents: int
    revenue_today_cents: int
    revenue_week_cents: int
    revenue_month_cents: int
    active_current: int
    active_today: int
    pending: int
    completed: int
    failed: int
    total_views: int
    peak_seen_24h: int  # highest `active_current` of the snapshots kept for the last 24 h
    # Pace: the same as `revenue_today_cents` and `active_today` over `pace_windows(now, zone)`.
    pace_revenue_yesterday_cents: int
    pace_revenue_last_week_cents: int
    pace_active_yesterday: int
    pace_active_last_week: int


def conversion_rate(purchases: int, views: int) -> Decimal:
    """`purchases / views * 100`, rounded half-up to 2 decimals; 0 without views."""
    if views <= 0:
        return Decimal("0.00")
    return percent(purchases, views)


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and `Z`, as the spec's `timestamp`."""
    moment = moment.astimezone(UTC)
    # Not strftime("%Y"): it does not zero-pad years before 1000 on every platform.
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def compute_snapshot(inputs: MetricInputs, now: datetime, snapshot_id: int, *, stale: bool = False) -> dict[str, Any]:
    """The contract's snapshot; money and the rate are Decimals (exact), encoded by `encode`."""
    return {
        "revenue": {
            "total": cents_to_money(inputs.revenue_total_cents),
            "today": cents_to_money(inputs.revenue_today_cents),
            "thisWeek": cents_to_money(inputs.revenue_week_cents),
            "thisMonth": cents_to_money(inputs.revenue_month_cents),
        },
        "activeUsers": {
            "current": inputs.active_current,
            "today": inputs.active_today,
            "peak24h": max(inputs.peak_seen_24h, inputs.active_current),
        },
        "transactions": {
            "total": inputs.pending + inputs.completed + inputs.failed,
            "pending": inputs.pending,
            "completed": inputs.completed,
            "failed": inputs.failed,
        },
        "content": {
            "totalViews": inputs.total_views,
            "totalPurchases": inputs.completed,
            "conversionRate": conversion_rate(inputs.completed, inputs.total_views),
        },
        "timestamp": format_timestamp(now),
        "snapshotId": snapshot_id,
        "stale": stale,
        "pace": {
            "revenue": {
                "yesterday": cents_to_money(inputs.pace_revenue_yesterday_cents),
                "lastWeek": cents_to_money(inputs.pace_revenue_last_week_cents),
            },
            "activeUsers": {"yesterday": inputs.pace_active_yesterday, "lastWeek": inputs.pace_active_last_week},
        },
    }


def mark_stale(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {**snapshot, "stale": True}


def encode(value: Any) -> bytes:
    """Compact JSON in which Decimals are written as exact JSON numbers (`125000.50`)."""
    text: str = simplejson.dumps(value, use_decimal=True, separators=(",", ":"))
    return text.encode()
