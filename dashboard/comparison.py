"""Which two ranges the History page compares: pure, `now` and the zone in, bucket edges out.

The chosen dates are resolved to the whole buckets of the interval that cover them, on the local
calendar of the zone, exactly as the sidecar resolves them (`server.analytics.buckets`, shared so
the two cannot disagree). The previous period is as many whole buckets again, ending where the
current period begins: the two never overlap, and a month is compared with the months before it,
not with a month it shares. Buckets that have not begun by `now` are neither asked for nor drawn;
while some are still to come, the totals compare the buckets so far with as many buckets from the
start of the previous period. While the last of those is under way (today, this week, this month),
the previous period's matching bucket is cut at the same point (`cut`): the same local date
offset and wall-clock time for days, weeks and months (as pace finds "yesterday at this time"),
the same time elapsed for hours and minutes. So four days of December are set against the first
four days of November to the same minute, never against all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from server.analytics.buckets import Bucket, Interval, TooManyBuckets, buckets, buckets_before
from server.metrics import wall_clock_instant

# The sidecar answers at most this many buckets per query (server.analytics.params.MAX_BUCKETS).
BUCKET_LIMIT = 1000
# The minute interval looks back from now instead of over whole days: a day has 1,440 minutes.
MINUTE_WINDOWS: dict[str, int] = {"15m": 15, "1h": 60, "3h": 180, "6h": 360, "12h": 720}
DEFAULT_MINUTE_WINDOW = "1h"
_UNITS = {"minute": "minute", "hour": "hour", "day": "day", "week": "week", "month": "month"}


@dataclass(frozen=True)
class Span:
    """Consecutive whole buckets: `start` (inclusive) to `end` (exclusive), both UTC."""

    edges: tuple[Bucket, ...]

    @property
    def start(self) -> datetime:
        return self.edges[0].start

    @property
    def end(self) -> datetime:
        return self.edges[-1].end

    @property
    def count(self) -> int:
        return len(self.edges)

    def first(self, count: int) -> Span:
        return Span(self.edges[:count])

    def bounds(self, tz: str) -> tuple[str, str]:
        """`from` and `to` for the sidecar: ISO 8601 in the zone's offsets, readable in its logs."""
        zone = ZoneInfo(tz)
        return self.start.astimezone(zone).isoformat(), self.end.astimezone(zone).isoformat()


@dataclass(frozen=True)
class Comparison:
    interval: Interval
    tz: str
    current: Span  # every bucket of the chosen range, those still to come included
    previous: Span  # as many buckets, ending where `current` begins
    begun: int  # how many buckets of `current` have begun by now (at least 1)
    under_way: bool  # the last bucket that has begun has not ended yet (today, this month)
    cut: datetime | None  # while under way: the point of the previous period's matching bucket that `now` is at

    @property
    def in_progress(self) -> bool:
        """Some buckets of the current period are still to come."""
        return self.begun < self.current.count

    @property
    def so_far(self) -> Span:
        """The current period's buckets that have begun: what is asked for and drawn."""
        return self.current.first(self.begun)

    @property
    def previous_so_far(self) -> Span:
        """The previous period's first buckets, as many as have begun: what the totals compare with
        (up to `cut` when the last is under way)."""
        return self.previous.first(self.begun)

    @property
    def partial(self) -> bool:
        """The totals compare less than whole buckets: some are still to come or one is under way."""
        return self.in_progress or self.under_way

    def local_starts(self) -> list[datetime]:
        """Wall-clock starts of every current bucket in the zone: the chart's x positions."""
        zone = ZoneInfo(self.tz)
        return [b.start.astimezone(zone).replace(tzinfo=None) for b in self.current.edges]

    def units(self, count: int) -> str:
        unit = _UNITS[self.interval]
        return f"{count:,} {unit}" + ("" if count == 1 else "s")


class NotBegun(ValueError):
    """The chosen range lies wholly after now: there is nothing to compare yet."""


def compare_days(first: date, last: date, interval: Interval, tz: str, now: datetime) -> Comparison:
    """The local days `first`..`last` of `tz` as whole buckets, and as many buckets before them.

    Raises `TooManyBuckets` when the range needs more buckets than the sidecar answers, and
    `NotBegun` when none of them has begun by `now`.
    """
    if last < first:
        raise ValueError("the last day comes before the first")
    zone = ZoneInfo(tz)
    current = buckets(_midnight(first, zone), _midnight(last + timedelta(days=1), zone), interval, zone, BUCKET_LIMIT)
    return _compare(current, interval, tz, now)


def compare_last_minutes(window: str, tz: str, now: datetime) -> Comparison:
    """The last `window` of minute buckets, the one holding `now` last, and as many before them."""
    zone = ZoneInfo(tz)
    minutes = MINUTE_WINDOWS[window]
    (holding_now,) = buckets(now, now + timedelta(microseconds=1), "minute", zone, 1)
    return _compare(buckets_before(holding_now.end, minutes, "minute", zone), "minute", tz, now)


def _compare(current: list[Bucket], interval: Interval, tz: str, now: datetime) -> Comparison:
    if len(current) > BUCKET_LIMIT:
        raise TooManyBuckets(len(current), BUCKET_LIMIT)
    begun = sum(1 for b in current if b.start <= now)
    if begun == 0:
        raise NotBegun("the range has not begun yet")
    zone = ZoneInfo(tz)
    previous = buckets_before(current[0].start, len(current), interval, zone)
    under_way = current[begun - 1].end > now
    cut = same_point(current[begun - 1], previous[begun - 1], now, interval, zone) if under_way else None
    return Comparison(interval, tz, Span(tuple(current)), Span(tuple(previous)), begun, under_way, cut)


def same_point(bucket: Bucket, earlier: Bucket, now: datetime, interval: Interval, zone: ZoneInfo) -> datetime:
    """The instant in `earlier` that stands where `now` stands in `bucket`: as much time in for
    minutes and hours; for days, weeks and months as many local days in at the same wall-clock
    time (`server.metrics.wall_clock_instant`: a time the clocks skipped is the instant of the
    jump, a repeated one its first occurrence). Never past the end of `earlier` (the 31st of a
    month against a 30-day one is its end)."""
    if interval in ("minute", "hour"):
        return min(earlier.start + (now - bucket.start), earlier.end)
    local_now = now.astimezone(zone)
    days_in = (local_now.date() - bucket.start.astimezone(zone).date()).days
    wall = datetime.combine(earlier.start.astimezone(zone).date() + timedelta(days=days_in), local_now.time())
    return min(max(wall_clock_instant(wall, zone), earlier.start), earlier.end)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    # fold=0 takes the first of two midnights; a skipped midnight resolves to the jump's instant.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def describe(span: Span, interval: Interval, tz: str) -> str:
    """The span as a reader names it: whole days for days, weeks and months (`Nov 1 – Dec 31,
    2026`), wall-clock times for hours and minutes (`Nov 3, 2026 14:00 – 16:00`, with the zone's
    abbreviations where a clock change lies between them)."""
    zone = ZoneInfo(tz)
    start = span.start.astimezone(zone)
    end = span.end.astimezone(zone)
    if interval in ("minute", "hour"):
        # Across a clock change the same wall time comes twice or never: name the offsets then.
        clock = "%H:%M %Z" if start.utcoffset() != end.utcoffset() else "%H:%M"
        if end.date() == start.date():
            return f"{_day(start.date())} {start:{clock}} – {end:{clock}}"
        return f"{_day(start.date())} {start:{clock}} – {_day(end.date())} {end:{clock}}"
    last = (span.end - timedelta(microseconds=1)).astimezone(zone).date()
    if start.year == last.year:
        return f"{start:%b} {start.day} – {_day(last)}"
    return f"{_day(start.date())} – {_day(last)}"


def _day(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"
