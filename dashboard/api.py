"""The sidecar's analytics endpoints, as the history and behaviour pages ask for them.

`AnalyticsClient` is the client package's `ApiClient` (plain httpx; every failure an `ApiError`,
here called `AnalyticsError`, whose text a page can show as it is) with one method per endpoint
and a check that each answer has what the pages read. `analytics()` is what pages call: the same
client with answers cached for `CACHE_TTL` seconds per query, so widget reruns do not ask the
sidecar again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard.settings import DashboardSettings
from metrics_client.protocol import ALERTS_PATH as ALERTS
from metrics_client.protocol import CATEGORIES_PATH as CATEGORIES
from metrics_client.protocol import FUNNEL_PATH as FUNNEL
from metrics_client.protocol import TIMESERIES_PATH as TIMESERIES
from metrics_client.protocol import TOP_CONTENT_PATH as TOP_CONTENT
from metrics_client.protocol import USERS_PATH as USERS
from metrics_client.rest import ApiClient
from metrics_client.rest import ApiError as AnalyticsError

METRICS = ("revenue", "transactions", "active_users", "views", "purchases", "conversion")
INTERVALS = ("minute", "hour", "day", "week", "month")
TOP_BY = ("views", "purchases", "revenue", "conversion")
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)
CACHE_TTL = 30.0
NOW_TTL = 4.0  # firing alerts' values now: shared briefly, fresher than a page's redraw


@dataclass(frozen=True)
class AnalyticsClient(ApiClient):
    @classmethod
    def from_env(cls) -> AnalyticsClient:
        settings = DashboardSettings.from_env()
        return cls(settings.api_url, token=settings.token)

    def timeseries(
        self, metric: str, start: str, end: str, interval: str, tz: str, until: str | None = None
    ) -> dict[str, Any]:
        return self._answer(TIMESERIES, timeseries_params(metric, start, end, interval, tz, until))

    def top_content(self, by: str, start: str, end: str, limit: int, min_views: int = 0) -> dict[str, Any]:
        return self._answer(TOP_CONTENT, top_params(by, start, end, limit, min_views))

    def categories(self, by: str, start: str, end: str) -> dict[str, Any]:
        return self._answer(CATEGORIES, {"by": by, "from": start, "to": end})

    def funnel(self, start: str, end: str, content_id: str | None = None) -> dict[str, Any]:
        params = {"from": start, "to": end}
        if content_id is not None:
            params["contentId"] = content_id
        return self._answer(FUNNEL, params)

    def users(self, start: str, end: str, tz: str) -> dict[str, Any]:
        return self._answer(USERS, {"from": start, "to": end, "tz": tz})

    def alerts(self, limit: int = 50) -> dict[str, Any]:
        return self._answer(ALERTS, {"limit": str(limit)})

    def values_now(self) -> dict[str, Any]:
        """Each firing alert's metric value now (`valueNow`, null when unknown), by rule."""
        return firing_values(self._answer(ALERTS, {"limit": "50"}))

    def _answer(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """An endpoint's JSON object (every analytics answer is one; the pages check its shape)."""
        answer = self.get_json(path, params)
        if not isinstance(answer, dict):
            raise AnalyticsError(f"{path} answered {type(answer).__name__}, not a JSON object")
        return answer

    def get_json(self, path: str, params: Mapping[str, str]) -> Any:
        answer = super().get_json(path, params)
        if (problem := _shape_problem(path, params, answer)) is not None:
            raise AnalyticsError(f"The sidecar sent a malformed answer to {path}: {problem}.")
        return answer


# What the pages read of each answer: its keys, and the keys of every item of its lists.
_SHAPES: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    TIMESERIES: (("points", "total"), {"points": ("start", "end", "value")}),
    TOP_CONTENT: (("items",), {"items": ("contentId", "views", "purchases", "revenue", "conversionRate")}),
    CATEGORIES: (("items",), {"items": ("category", "views", "purchases", "revenue", "conversionRate")}),
    FUNNEL: (("steps", "overallRate"), {"steps": ("step", "count", "rate")}),
    USERS: (
        ("days", "heatmap"),
        {"days": ("date", "active", "new", "returning"), "heatmap": ("weekday", "hour", "activeUsers")},
    ),
    ALERTS: (
        ("firing", "recent", "rules"),
        {
            "firing": ("id", "rule", "state", "severity", "message"),
            "recent": ("id", "rule", "state", "severity", "message", "firedAt", "resolvedAt"),
        },
    ),
}
_STATUSES = ("pending", "completed", "failed", "total")


def _shape_problem(path: str, params: Mapping[str, str], answer: Any) -> str | None:
    """What is missing from an answer, so a page never fails on a half-built endpoint; None if nothing."""
    keys, lists = _SHAPES.get(path, ((), {}))
    if not isinstance(answer, dict):
        return "not a JSON object"
    if missing := [key for key in keys if key not in answer]:
        return f"no {', '.join(missing)}"
    for name, item_keys in lists.items():
        if name == "points" and params.get("metric") == "transactions":
            item_keys = ("start", "end", *_STATUSES)
            if not isinstance(answer["total"], dict) or any(k not in answer["total"] for k in _STATUSES):
                return f"total is not an object of {', '.join(_STATUSES)}"
        items = answer[name]
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and all(k in i for k in item_keys) for i in items
        ):
            return f"{name} is not a list of objects with {', '.join(item_keys)}"
    cells = answer.get("heatmap", []) if path == USERS else []
    if not all(c["weekday"] in range(7) and c["hour"] in range(24) for c in cells):
        return "a heatmap cell is outside weekday 0-6, hour 0-23"
    return None


def top_params(by: str, start: str, end: str, limit: int, min_views: int = 0) -> dict[str, str]:
    params = {"by": by, "from": start, "to": end, "limit": str(limit)}
    if min_views:
        params["minViews"] = str(min_views)
    return params


def timeseries_params(
    metric: str, start: str, end: str, interval: str, tz: str, until: str | None = None
) -> dict[str, str]:
    params = {"metric": metric, "from": start, "to": end, "interval": interval, "tz": tz}
    if until is not None:
        params["until"] = until  # figures only before it: a period under way matched to the same point
    return params


@dataclass(frozen=True)
class Period:
    """Local calendar days `first`..`last` (both included) in the zone `tz`."""

    first: date
    last: date
    tz: str

    @classmethod
    def last_days(cls, days: int, tz: str, now: datetime) -> Period:
        today = now.astimezone(ZoneInfo(tz)).date()
        return cls(today - timedelta(days=days - 1), today, tz)

    @property
    def start(self) -> str:
        """`from`: local midnight of the first day, ISO 8601 with its offset."""
        return _local_midnight(self.first, self.tz)

    @property
    def end(self) -> str:
        """`to` (exclusive): local midnight of the day after the last."""
        return _local_midnight(self.last + timedelta(days=1), self.tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def label(self) -> str:
        return f"{_day(self.first)} – {_day(self.last)}"


def _local_midnight(day: date, tz: str) -> str:
    zone = ZoneInfo(tz)
    # Through UTC and back: where midnight is skipped by a DST change the day starts at 01:00.
    moment = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC).astimezone(zone)
    return moment.isoformat()


def _day(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def zone_choices(default: str) -> list[str]:
    """The deployment's zone first, then a few common ones."""
    return [default, *(zone for zone in COMMON_ZONES if zone != default)]


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _cached(_fetch: Callable[[], Any], api_url: str, kind: str, path: str, params: tuple[tuple[str, str], ...]) -> Any:
    # `_fetch` is left out of the cache key; the other arguments are the key. Errors are not cached.
    return _fetch()


@st.cache_data(ttl=NOW_TTL, show_spinner=False)
def _cached_now(_fetch: Callable[[], Any], api_url: str, path: str) -> Any:
    return _fetch()


def firing_values(listing: Mapping[str, Any]) -> dict[str, Any]:
    firing = listing.get("firing")
    return (
        {alert["rule"]: alert.get("valueNow") for alert in firing if "rule" in alert}
        if isinstance(firing, list)
        else {}
    )


class CachedAnalyticsClient(AnalyticsClient):
    """An `AnalyticsClient` whose answers are shared by every session for `CACHE_TTL` seconds
    (values now for `NOW_TTL`)."""

    def values_now(self) -> dict[str, Any]:
        fetch = functools.partial(AnalyticsClient.get_json, self, ALERTS, {"limit": "50"})
        answer = _cached_now(fetch, self.api_url, ALERTS)
        return firing_values(answer) if isinstance(answer, dict) else {}

    def get_json(self, path: str, params: Mapping[str, str]) -> Any:
        fetch = functools.partial(AnalyticsClient.get_json, self, path, params)
        return _cached(fetch, self.api_url, "json", path, tuple(sorted(params.items())))

    def csv(self, path: str, params: Mapping[str, str]) -> bytes:
        fetch = functools.partial(AnalyticsClient.csv, self, path, params)
        body: bytes = _cached(fetch, self.api_url, "csv", path, tuple(sorted(params.items())))
        return body


@st.cache_resource
def analytics() -> AnalyticsClient:
    """The client pages use (tests replace this accessor with a fake)."""
    return CachedAnalyticsClient.from_env()
