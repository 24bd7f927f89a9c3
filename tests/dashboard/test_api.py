"""`dashboard.api`: the analytics client against an `httpx.MockTransport`, and the date ranges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import streamlit as st

from dashboard.api import (
    FUNNEL,
    TIMESERIES,
    USERS,
    AnalyticsClient,
    AnalyticsError,
    CachedAnalyticsClient,
    Period,
    zone_choices,
)

URL = "http://sidecar.test:3000"
SERIES = {"points": [{"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z", "value": 1.5}], "total": 1.5}


def client_of(handler: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request] | None = None) -> Any:
    def record(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return handler(request)

    return AnalyticsClient(URL, timeout=2.0, transport=httpx.MockTransport(record))


def test_a_query_is_sent_with_its_offsets_intact_and_the_json_returned() -> None:
    seen: list[httpx.Request] = []
    client = client_of(lambda request: httpx.Response(200, json=SERIES), seen)
    answer = client.timeseries(
        "revenue", "2026-11-01T00:00:00+13:00", "2026-12-01T00:00:00+13:00", "day", "Pacific/Auckland"
    )
    assert answer == SERIES
    assert seen[0].url.path == TIMESERIES
    assert dict(seen[0].url.params) == {
        "metric": "revenue",
        "from": "2026-11-01T00:00:00+13:00",
        "to": "2026-12-01T00:00:00+13:00",
        "interval": "day",
        "tz": "Pacific/Auckland",
    }
    assert b"from=2026-11-01T00%3A00%3A00%2B13%3A00" in seen[0].url.query  # `+` escaped, not read as a space


def test_the_funnel_names_a_content_id_only_when_given() -> None:
    seen: list[httpx.Request] = []
    client = client_of(lambda request: httpx.Response(200, json={"steps": [], "overallRate": 0.0}), seen)
    client.funnel("a", "b")
    client.funnel("a", "b", "c-1")
    assert [dict(r.url.params) for r in seen] == [
        {"from": "a", "to": "b"},
        {"from": "a", "to": "b", "contentId": "c-1"},
    ]
    assert {r.url.path for r in seen} == {FUNNEL}


def test_csv_asks_for_format_csv_and_returns_the_bytes() -> None:
    seen: list[httpx.Request] = []
    body = b"start,end,value\n2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,1.50\n"
    client = client_of(lambda request: httpx.Response(200, content=body, headers={"content-type": "text/csv"}), seen)
    assert client.csv(TIMESERIES, {"metric": "revenue", "from": "a"}) == body
    assert dict(seen[0].url.params) == {"metric": "revenue", "from": "a", "format": "csv"}


def test_a_refusal_carries_the_sidecars_message_and_names_each_problem() -> None:
    too_many = {"error": {"code": "validation_error", "message": "Too many buckets: 4320, at most 1000"}}
    with pytest.raises(AnalyticsError) as caught:
        client_of(lambda request: httpx.Response(422, json=too_many)).timeseries("revenue", "a", "b", "minute", "UTC")
    assert (str(caught.value), caught.value.status) == ("Too many buckets: 4320, at most 1000", 422)

    details = [{"field": "tz", "message": "'Mars/Base' is not an IANA time zone"}, {"field": "to", "message": "x"}]
    invalid = {"error": {"code": "validation_error", "message": "2 invalid parameters", "details": details}}
    with pytest.raises(AnalyticsError) as caught:
        client_of(lambda request: httpx.Response(422, json=invalid)).users("a", "b", "Mars/Base")
    assert str(caught.value) == "2 invalid parameters: tz 'Mars/Base' is not an IANA time zone; to x"
    assert caught.value.details == details


def test_a_failure_without_the_error_shape_is_told_by_its_status() -> None:
    with pytest.raises(AnalyticsError, match=r"^The sidecar answered 502 Bad Gateway\.$"):
        client_of(lambda request: httpx.Response(502, text="<html>bad gateway</html>")).users("a", "b", "UTC")


def test_an_unreachable_sidecar_says_where_it_was_looked_for() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(AnalyticsError, match=r"^The sidecar at http://sidecar.test:3000 cannot be reached \("):
        client_of(refuse).top_content("views", "a", "b", 10)
    with pytest.raises(AnalyticsError, match=r"^The sidecar at http://sidecar.test:3000 did not answer within 2 s\.$"):
        client_of(hang).csv(USERS, {})


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("not json", "that is not JSON"),
        ({"points": []}, "malformed answer to /api/v1/analytics/timeseries: no total"),
        (
            {"points": [{"start": "a", "end": "b"}], "total": 1},
            "points is not a list of objects with start, end, value",
        ),
    ],
)
def test_an_answer_the_pages_cannot_read_is_an_error_not_a_crash(answer: Any, problem: str) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=answer) if isinstance(answer, str) else httpx.Response(200, json=answer)

    with pytest.raises(AnalyticsError, match=problem):
        client_of(respond).timeseries("revenue", "a", "b", "day", "UTC")


def test_transactions_points_carry_each_status_instead_of_a_value() -> None:
    point = {"start": "a", "end": "b", "pending": 1, "completed": 2, "failed": 0, "total": 3}
    good = {"points": [point], "total": {"pending": 1, "completed": 2, "failed": 0, "total": 3}}
    assert (
        client_of(lambda r: httpx.Response(200, json=good)).timeseries("transactions", "a", "b", "day", "UTC") == good
    )
    with pytest.raises(AnalyticsError, match="total is not an object"):
        client_of(lambda r: httpx.Response(200, json={**good, "total": 3})).timeseries(
            "transactions", "a", "b", "day", "UTC"
        )


def test_the_cached_client_asks_once_per_query() -> None:
    st.cache_data.clear()
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200, json=SERIES))
    client = CachedAnalyticsClient(URL, transport=transport)
    for _ in range(2):
        assert client.timeseries("revenue", "a", "b", "day", "UTC") == SERIES
    client.timeseries("revenue", "a", "b", "hour", "UTC")
    assert [r.url.params["interval"] for r in seen] == ["day", "hour"]
    st.cache_data.clear()


def test_a_period_is_local_midnight_to_the_midnight_after_its_last_day() -> None:
    period = Period(date(2026, 9, 20), date(2026, 10, 10), "Pacific/Auckland")
    assert (period.start, period.end, period.days) == ("2026-09-20T00:00:00+12:00", "2026-10-11T00:00:00+13:00", 21)
    # Chile skips midnight when it moves to summer time: that day starts at 01:00.
    assert Period(date(2026, 9, 6), date(2026, 9, 6), "America/Santiago").start == "2026-09-06T01:00:00-03:00"


def test_the_default_range_is_the_last_30_days_of_the_zone() -> None:
    late_evening_utc = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # already Dec 1 in Auckland
    period = Period.last_days(30, "Pacific/Auckland", late_evening_utc)
    assert (period.first, period.last) == (date(2026, 11, 2), date(2026, 12, 1))
    assert zone_choices("Europe/Paris")[:2] == ["Europe/Paris", "UTC"]
    assert zone_choices("UTC").count("UTC") == 1
