"""Query parameters of the analytics endpoints: one pydantic model per endpoint (which also makes
their description in `/openapi.json`), then the range they name, resolved in the calendar of `tz`.

What no parameter schema can say is checked here and named in each operation's description: `to`
must come after `from` (once defaults are filled in); the endpoints add the bucket limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import QueryParams

from server.analytics.buckets import Interval, _midnight
from server.errors import ValidationFailed
from server.fields import Identifier, RangeBound, TimeZoneName, whole_number
from server.query import parse_query

Metric = Literal["revenue", "transactions", "active_users", "views", "purchases", "conversion"]
TopBy = Literal["views", "purchases", "revenue", "conversion"]
Format = Literal["json", "csv"]
METRICS: tuple[str, ...] = get_args(Metric)
TOP_BY: tuple[str, ...] = get_args(TopBy)
MAX_BUCKETS = 1000
MAX_MIN_VIEWS = 1_000_000_000
MAX_CATEGORIES = 1000
DEFAULT_SPAN: dict[str, timedelta] = {
    "minute": timedelta(hours=1),
    "hour": timedelta(days=1),
    "day": timedelta(days=30),
    "week": timedelta(weeks=12),
    "month": timedelta(days=365),
}

# The range parameters every analytics endpoint shares.
From = Annotated[
    RangeBound | None,
    Field(
        alias="from",
        description="Start, inclusive: a date (local midnight in `tz`) or an RFC 3339 time with an offset. "
        "Default: `to` minus the endpoint's default span.",
        examples=["2026-11-01T00:00:00Z"],
    ),
]
To = Annotated[
    RangeBound | None,
    Field(
        description="End, exclusive, in the same forms; default now. Must come after `from`.",
        examples=["2026-11-01T12:00:00Z"],
    ),
]
Tz = Annotated[
    TimeZoneName | None,
    Field(description="IANA time zone of the calendar; default METRICS_TIMEZONE.", examples=["Europe/Berlin"]),
]
OutputFormat = Annotated[Format, Field(description="`json`, or `csv`: the same rows, a header line first.")]

_QUERY = ConfigDict(extra="ignore", frozen=True)


class SeriesQuery(BaseModel):
    model_config = _QUERY

    metric: Annotated[Metric, Field(description="What to count.")]
    interval: Annotated[Interval, Field(description="Bucket size.")] = "day"
    start: From = None
    to: To = None
    tz: Tz = None
    until: Annotated[
        RangeBound | None,
        Field(
            description="Count only what happened before this instant (exclusive; same forms as `from`): the "
            "buckets from it on are left out and the one holding it ends there. For setting a period under way "
            "against the same point of an earlier one. Must come after `from`.",
            examples=["2026-11-04T20:15:00Z"],
        ),
    ] = None
    format: OutputFormat = "json"


class TopQuery(BaseModel):
    model_config = _QUERY

    by: Annotated[TopBy, Field(description="Ranking.")] = "views"
    limit: Annotated[int, *whole_number(1, 100), Field(description="How many.")] = 10
    minViews: Annotated[
        int,
        *whole_number(0, MAX_MIN_VIEWS),
        Field(description="Leave out content with fewer views than this in the range (default 0: none left out)."),
    ] = 0
    start: From = None
    to: To = None
    tz: Tz = None
    format: OutputFormat = "json"


class CategoriesQuery(BaseModel):
    model_config = _QUERY

    by: Annotated[TopBy, Field(description="Ranking.")] = "views"
    limit: Annotated[int, *whole_number(1, MAX_CATEGORIES), Field(description="How many categories.")] = 100
    start: From = None
    to: To = None
    tz: Tz = None
    format: OutputFormat = "json"


class FunnelQuery(BaseModel):
    model_config = _QUERY

    contentId: Annotated[Identifier | None, Field(description="One content only.")] = None
    start: From = None
    to: To = None
    tz: Tz = None
    format: OutputFormat = "json"


class UsersQuery(BaseModel):
    model_config = _QUERY

    part: Annotated[Literal["days", "heatmap"], Field(description="Which table a CSV answer holds.")] = "days"
    start: From = None
    to: To = None
    tz: Tz = None
    format: OutputFormat = "json"


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime
    zone: ZoneInfo
    tz: str
    format: str


def _instant(bound: date | datetime | None, zone: ZoneInfo) -> datetime | None:
    if bound is None or isinstance(bound, datetime):
        return bound
    return _midnight(bound, zone)


def resolve_range(
    query: SeriesQuery | TopQuery | CategoriesQuery | FunnelQuery | UsersQuery,
    *,
    now: datetime,
    default_tz: str,
    span: timedelta,
) -> Range:
    """The UTC range the parameters name; `from` defaults to `span` before `to`, `to` to now."""
    tz = query.tz or default_tz
    zone = ZoneInfo(tz)
    end = _instant(query.to, zone) or now
    # No overflow: a bound lies in the years 0003 to 9998 (server.fields), and now is now.
    start = _instant(query.start, zone) or end - span
    if start >= end:
        raise ValidationFailed("1 invalid parameter", [{"field": "to", "message": "must be after from"}])
    return Range(start, end, zone, tz, query.format)


@dataclass(frozen=True)
class Series:
    metric: str
    interval: Interval
    range: Range
    until: datetime | None  # figures count only before it (None: the whole buckets)


def parse_series(query: QueryParams, *, now: datetime, default_tz: str) -> Series:
    parsed = parse_query(SeriesQuery, query)
    span = DEFAULT_SPAN[parsed.interval]
    rng = resolve_range(parsed, now=now, default_tz=default_tz, span=span)
    until = _instant(parsed.until, rng.zone)
    if until is not None and until <= rng.start:
        raise ValidationFailed("1 invalid parameter", [{"field": "until", "message": "must be after from"}])
    return Series(parsed.metric, parsed.interval, rng, until)


@dataclass(frozen=True)
class Top:
    by: str
    limit: int
    min_views: int
    range: Range


def parse_top(query: QueryParams, *, now: datetime, default_tz: str) -> Top:
    parsed = parse_query(TopQuery, query)
    rng = resolve_range(parsed, now=now, default_tz=default_tz, span=timedelta(days=30))
    return Top(parsed.by, parsed.limit, parsed.minViews, rng)


@dataclass(frozen=True)
class Categories:
    by: str
    limit: int
    range: Range


def parse_categories(query: QueryParams, *, now: datetime, default_tz: str) -> Categories:
    parsed = parse_query(CategoriesQuery, query)
    return Categories(
        parsed.by, parsed.limit, resolve_range(parsed, now=now, default_tz=default_tz, span=timedelta(days=30))
    )


@dataclass(frozen=True)
class Funnel:
    content_id: str | None
    range: Range


def parse_funnel(query: QueryParams, *, now: datetime, default_tz: str) -> Funnel:
    parsed = parse_query(FunnelQuery, query)
    return Funnel(parsed.contentId, resolve_range(parsed, now=now, default_tz=default_tz, span=timedelta(days=30)))


@dataclass(frozen=True)
class Users:
    part: str
    range: Range


def parse_users(query: QueryParams, *, now: datetime, default_tz: str) -> Users:
    parsed = parse_query(UsersQuery, query)
    return Users(parsed.part, resolve_range(parsed, now=now, default_tz=default_tz, span=timedelta(days=30)))
