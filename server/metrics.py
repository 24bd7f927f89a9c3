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
    }


def mark_stale(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {**snapshot, "stale": True}


def encode(value: Any) -> bytes:
    """Compact JSON in which Decimals are written as exact JSON numbers (`125000.50`)."""
    text: str = simplejson.dumps(value, use_decimal=True, separators=(",", ":"))
    return text.encode()
