"""Bucket edges on a local calendar: pure, so daylight-saving days are tested to the second.

Minutes and hours are real, fixed-length spans aligned to the local clock: on a fall-back day
the repeated local hour is two buckets, and on a spring-forward day the skipped hour has none.
Days, weeks (ISO, from Monday) and months run from local midnight to local midnight, so a 23- or
25-hour day is one day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Interval = Literal["minute", "hour", "day", "week", "month"]
INTERVALS: tuple[Interval, ...] = ("minute", "hour", "day", "week", "month")
_FIXED = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}


class TooManyBuckets(ValueError):
    """The range holds more buckets than allowed."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"the range holds more than {limit} buckets ({count}+); choose a larger interval")
        self.count = count
        self.limit = limit


@dataclass(frozen=True)
class Bucket:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    # fold=0 takes the first of two midnights; a skipped midnight resolves to the jump's instant.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _period_start(moment: datetime, interval: Interval, zone: ZoneInfo) -> datetime:
    """The start of the local calendar period that contains `moment`."""
    # In UTC first: arithmetic on a datetime in `zone` is wall-clock arithmetic and loses the
    # fold that tells the two passes of a repeated hour apart.
    moment = moment.astimezone(UTC)
    local = moment.astimezone(zone)
    if interval in _FIXED:
        unit = 60 if interval == "minute" else 3600
        # Align to the local clock, then step back in real time.
        into = local.minute * 60 + local.second if unit == 3600 else local.second
        return (moment - timedelta(seconds=into, microseconds=local.microsecond)).astimezone(UTC)
    day = local.date()
    if interval == "week":
        day -= timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    start = _midnight(day, zone)
    return start if start <= moment else _midnight(day - timedelta(days=1), zone)


def _next_start(start: datetime, interval: Interval, zone: ZoneInfo) -> datetime:
    if interval in _FIXED:
        return start + _FIXED[interval]
    day = start.astimezone(zone).date()
    if interval == "day":
        nxt = day + timedelta(days=1)
    elif interval == "week":
        nxt = day + timedelta(days=7)
    else:
        nxt = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return _midnight(nxt, zone)


def buckets(start: datetime, end: datetime, interval: Interval, zone: ZoneInfo, limit: int) -> list[Bucket]:
    """The buckets that cover `[start, end)`: the first begins at or before `start` (the start
    of its local period), the last ends at or after `end`. Raises TooManyBuckets past `limit`.
    """
    if end <= start:
        raise ValueError("`to` must be after `from`")
    edges: list[Bucket] = []
    cursor = _period_start(start, interval, zone)
    while cursor < end:
        if len(edges) == limit:
            raise TooManyBuckets(limit + 1, limit)
        following = _next_start(cursor, interval, zone)
        edges.append(Bucket(cursor, following))
        cursor = following
    return edges


def buckets_before(end: datetime, count: int, interval: Interval, zone: ZoneInfo) -> list[Bucket]:
    """The `count` whole buckets that end at `end` (a bucket edge), oldest first.

    Each step back takes the bucket that holds the instant just before the edge, so a 23- or
    25-hour day, a 28-day month and the two passes of a repeated hour are each one bucket.
    """
    if count < 0:
        raise ValueError("`count` must not be negative")
    edges: list[Bucket] = []
    cursor = end.astimezone(UTC)
    for _ in range(count):
        start = _period_start(cursor - timedelta(microseconds=1), interval, zone)
        edges.append(Bucket(start, cursor))
        cursor = start
    edges.reverse()
    return edges


def clipped(edges: list[Bucket], until: datetime) -> list[Bucket]:
    """`edges` up to the instant `until`: the buckets that begin before it, the one holding it
    ending there (a bucket cut short, so a period under way can be matched to the same point)."""
    return [Bucket(b.start, min(b.end, until)) for b in edges if b.start < until]
