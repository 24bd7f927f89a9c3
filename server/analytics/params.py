"""Query parameters of the analytics endpoints: parsed, defaulted, or every problem listed (422)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.analytics.buckets import INTERVALS, Interval, _midnight
from server.errors import ValidationFailed
from server.events import has_control_characters

METRICS = ("revenue", "transactions", "active_users", "views", "purchases", "conversion")
TOP_BY = ("views", "purchases", "revenue", "conversion")
FORMATS = ("json", "csv")
MAX_BUCKETS = 1000
DEFAULT_SPAN: dict[str, timedelta] = {
    "minute": timedelta(hours=1),
    "hour": timedelta(days=1),
    "day": timedelta(days=30),
    "week": timedelta(weeks=12),
    "month": timedelta(days=365),
}


class _Problems:
    def __init__(self, query: Mapping[str, str]) -> None:
        self.query = query
        self.items: list[dict[str, Any]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.query.get(name, default)
        if value not in options:
            self.add(name, f"must be one of: {', '.join(options)}")
            return default
        return value

    def raise_if_any(self) -> None:
        if self.items:
            count = len(self.items)
            raise ValidationFailed(f"{count} invalid parameter{'s' if count > 1 else ''}", self.items)


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime
    zone: ZoneInfo
    tz: str
    format: str


def _zone(problems: _Problems, default_tz: str) -> tuple[str, ZoneInfo]:
    name = problems.query.get("tz", default_tz)
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add("tz", f"{name!r} is not an IANA time zone (for example Europe/Berlin)")
        return default_tz, ZoneInfo(default_tz)


def _moment(problems: _Problems, name: str, zone: ZoneInfo) -> datetime | None:
    raw = problems.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:  # a date: local midnight in `tz`
            return _in_range(problems, name, _midnight(date.fromisoformat(raw), zone))
        # A `+` in a query string arrives as a space: put it back in the offset.
        text = raw.replace(" ", "+") if "T" in raw else raw
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except OverflowError:
        problems.add(name, _OUT_OF_RANGE)
        return None
    except ValueError:
        problems.add(name, "must be an ISO 8601 date (2026-11-01) or time with an offset (2026-11-01T00:00:00Z)")
        return None
    if moment.tzinfo is None:
        problems.add(name, "must carry a UTC offset or Z (or be a plain date, read in tz)")
        return None
    return _in_range(problems, name, moment)


_OUT_OF_RANGE = "must lie between the years 1 and 9999 in UTC and in tz, with a day to spare"


def _in_range(problems: _Problems, name: str, moment: datetime) -> datetime | None:
    """A day of room at both ends of the calendar, for the bucket arithmetic around `moment`."""
    try:
        (moment - timedelta(days=2)).astimezone(UTC)
        (moment + timedelta(days=62)).astimezone(UTC)
    except OverflowError:
        problems.add(name, _OUT_OF_RANGE)
        return None
    return moment


def _range(problems: _Problems, now: datetime, default_tz: str, default_span: timedelta) -> tuple[Range, _Problems]:
    tz, zone = _zone(problems, default_tz)
    start = _moment(problems, "from", zone)
    end = _moment(problems, "to", zone)
    output = problems.choice("format", FORMATS, "json")
    end = end or now
    if start is None:
        try:
            start = end - default_span
        except OverflowError:
            problems.add("from", _OUT_OF_RANGE)
            start = end
    if start >= end and not problems.items:
        problems.add("to", "must be after from")
    return Range(start, end, zone, tz, output), problems


@dataclass(frozen=True)
class SeriesQuery:
    metric: str
    interval: Interval
    range: Range


def parse_series(query: Mapping[str, str], *, now: datetime, default_tz: str) -> SeriesQuery:
    problems = _Problems(query)
    metric = problems.choice("metric", METRICS, "revenue") if "metric" in query else None
    if metric is None:
        problems.add("metric", f"is required: one of {', '.join(METRICS)}")
    interval: Interval = problems.choice("interval", INTERVALS, "day")  # type: ignore[assignment]
    rng, problems = _range(problems, now, default_tz, DEFAULT_SPAN[interval])
    problems.raise_if_any()
    assert metric is not None
    return SeriesQuery(metric, interval, rng)


@dataclass(frozen=True)
class TopQuery:
    by: str
    limit: int
    range: Range


def parse_top(query: Mapping[str, str], *, now: datetime, default_tz: str) -> TopQuery:
    problems = _Problems(query)
    by = problems.choice("by", TOP_BY, "views")
    limit = 10
    if "limit" in query:
        raw = query["limit"]
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100:
            problems.add("limit", "must be an integer from 1 to 100")
        else:
            limit = int(raw)
    rng, problems = _range(problems, now, default_tz, timedelta(days=30))
    problems.raise_if_any()
    return TopQuery(by, limit, rng)


@dataclass(frozen=True)
class FunnelQuery:
    content_id: str | None
    range: Range


def parse_funnel(query: Mapping[str, str], *, now: datetime, default_tz: str) -> FunnelQuery:
    problems = _Problems(query)
    content_id = query.get("contentId") or None
    if content_id is not None and len(content_id) > 200:
        problems.add("contentId", "must be at most 200 characters")
    elif content_id is not None and has_control_characters(content_id):
        problems.add("contentId", "must not contain control characters")
    rng, problems = _range(problems, now, default_tz, timedelta(days=30))
    problems.raise_if_any()
    return FunnelQuery(content_id, rng)


@dataclass(frozen=True)
class UsersQuery:
    part: str
    range: Range


def parse_users(query: Mapping[str, str], *, now: datetime, default_tz: str) -> UsersQuery:
    problems = _Problems(query)
    part = problems.choice("part", ("days", "heatmap"), "days")
    rng, problems = _range(problems, now, default_tz, timedelta(days=30))
    problems.raise_if_any()
    return UsersQuery(part, rng)
