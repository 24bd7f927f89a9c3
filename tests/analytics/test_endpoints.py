"""`/api/v1/analytics/{timeseries,content/top,funnel,users}` through the app, on every stack, exact.

Rows are written the two ways the contract allows and must count the same: events posted with an
explicit `at` (`api`), and plain INSERTs and UPDATEs straight into the tables (`sql`). Most scenarios
are in Pacific/Auckland around its daylight-saving changes: Sun 2026-04-05 lasts 25 hours (03:00
NZDT becomes 02:00 NZST) and Sun 2026-09-27 lasts 23 hours (02:00 NZST becomes 03:00 NZDT).
Money and rates are compared as text ("12.50"), parsed with `parse_float=Decimal`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from tests.support.helpers import LocalClient, db_time, service_of, sql

AUCKLAND = ZoneInfo("Pacific/Auckland")
TZ = "Pacific/Auckland"
NOW = datetime(2026, 11, 1, tzinfo=UTC)  # after every scenario; the app's clock
MICROSECOND = timedelta(microseconds=1)
SERIES = "/api/v1/analytics/timeseries"
TOP = "/api/v1/analytics/content/top"
FUNNEL = "/api/v1/analytics/funnel"
USERS = "/api/v1/analytics/users"


def local(*fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=AUCKLAND, fold=fold)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with LocalClient(create_app(settings, clock=lambda: NOW)) as test_client:
        yield test_client


# --- writing rows -------------------------------------------------------------------------------------


class ApiWriter:
    """Events through POST /api/v1/events, one at a time, each with its own `at`."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def _store(self, event: dict[str, Any], at: datetime) -> None:
        # UTC text: local wall-clock text would lose the fold of a repeated hour.
        response = self.client.post("/api/v1/events", json={**event, "at": at.astimezone(UTC).isoformat()})
        assert response.json() == {"accepted": 1, "duplicates": 0}, response.text

    def activity(self, user_id: str, at: datetime) -> None:
        self._store({"type": "user_activity", "userId": user_id}, at)

    def view(self, content_id: str, user_id: str | None, at: datetime) -> None:
        event = {"type": "content_view", "contentId": content_id}
        self._store(event if user_id is None else {**event, "userId": user_id}, at)

    def transaction(
        self, tx_id: str, user_id: str, amount: str, status: str, at: datetime, content_id: str | None = None
    ) -> None:
        event = {"type": "transaction", "id": tx_id, "userId": user_id, "amount": amount, "status": status}
        self._store(event if content_id is None else {**event, "contentId": content_id}, at)

    def complete(self, tx_id: str, at: datetime) -> None:
        self._store({"type": "transaction", "id": tx_id, "status": "completed"}, at)


class SqlWriter:
    """Rows as the platform writes them: INSERTs, and an UPDATE of the status, into the documented tables."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def _time(self, at: datetime) -> Any:
        return db_time(self.client, at.astimezone(UTC))  # SQLite text must be UTC

    def activity(self, user_id: str, at: datetime) -> None:
        sql(self.client, "INSERT INTO user_activity (user_id, at) VALUES (:u, :at)", u=user_id, at=self._time(at))

    def view(self, content_id: str, user_id: str | None, at: datetime) -> None:
        sql(
            self.client,
            "INSERT INTO content_views (content_id, user_id, viewed_at) VALUES (:c, :u, :at)",
            c=content_id,
            u=user_id,
            at=self._time(at),
        )

    def transaction(
        self, tx_id: str, user_id: str, amount: str, status: str, at: datetime, content_id: str | None = None
    ) -> None:
        sqlite = service_of(self.client).engine.dialect.name == "sqlite"
        sql(
            self.client,
            "INSERT INTO transactions (id, user_id, content_id, amount, currency, status, created_at, completed_at)"
            " VALUES (:id, :u, :c, :amount, 'USD', :status, :created, :completed)",
            id=tx_id,
            u=user_id,
            c=content_id,
            amount=amount if sqlite else Decimal(amount),
            status=status,
            created=self._time(at),
            completed=self._time(at) if status == "completed" else None,
        )

    def complete(self, tx_id: str, at: datetime) -> None:
        sql(
            self.client,
            "UPDATE transactions SET status = 'completed', completed_at = :at WHERE id = :id",
            at=self._time(at),
            id=tx_id,
        )


Writer = ApiWriter | SqlWriter


@pytest.fixture(params=["api", "sql"])
def writer(request: pytest.FixtureRequest, client: TestClient) -> Writer:
    return ApiWriter(client) if request.param == "api" else SqlWriter(client)


# --- reading answers ----------------------------------------------------------------------------------


def get_json(client: TestClient, path: str, params: dict[str, str]) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return json.loads(response.text, parse_float=Decimal)


def series(client: TestClient, metric: str, **params: str) -> Any:
    return get_json(client, SERIES, {"metric": metric, **params})


def values(body: dict[str, Any]) -> list[str]:
    return [str(point["value"]) for point in body["points"]]


def edges(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(point["start"], point["end"]) for point in body["points"]]


def spans(*instants: str) -> list[tuple[str, str]]:
    """Consecutive buckets from UTC edges written `2026-04-01 11:00`."""
    texts = [f"{i.replace(' ', 'T')}:00.000Z" for i in instants]
    return list(pairwise(texts))


def as_text(row: dict[str, Any]) -> dict[str, str]:
    return {key: "" if value is None else str(value) for key, value in row.items()}


def problems(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error" and isinstance(error["message"], str)
    for detail in error["details"]:
        assert set(detail) == {"field", "message"} and detail["message"]
    return [detail["field"] for detail in error["details"]]


# --- revenue per local day across the 25-hour day -----------------------------------------------------

# Thu 2026-04-02 .. Wed 2026-04-08 in Auckland: midnight is 11:00 UTC the day before while NZDT (+13)
# lasts, 12:00 UTC from Mon 2026-04-06 (NZST, +12). Sunday 5 April runs 11:00 UTC to 12:00 UTC next day.
DST_END_WEEK = spans(
    "2026-04-01 11:00",
    "2026-04-02 11:00",
    "2026-04-03 11:00",
    "2026-04-04 11:00",
    "2026-04-05 12:00",
    "2026-04-06 12:00",
    "2026-04-07 12:00",
    "2026-04-08 12:00",
)


def _revenue_week(w: Writer) -> None:
    w.transaction("t-before-range", "u-1", "1000.00", "completed", local(2026, 4, 2) - MICROSECOND)
    w.transaction("t-first-instant", "u-1", "0.10", "completed", local(2026, 4, 2))
    w.transaction("t-before-midnight", "u-1", "1.01", "completed", local(2026, 4, 5) - MICROSECOND)
    w.transaction("t-after-midnight", "u-1", "2.02", "completed", local(2026, 4, 5))
    w.transaction("t-0230-nzdt", "u-1", "4.04", "completed", local(2026, 4, 5, 2, 30))
    w.transaction("t-0230-nzst", "u-1", "8.08", "completed", local(2026, 4, 5, 2, 30, fold=1))
    # 11:59:59 UTC: a 24-hour day from 11:00 UTC would already have ended.
    w.transaction("t-last-second", "u-1", "16.16", "completed", local(2026, 4, 5, 23, 59, 59))
    w.transaction("t-next-midnight", "u-1", "32.32", "completed", local(2026, 4, 6))
    w.transaction("t-pending", "u-2", "64.00", "pending", local(2026, 4, 5, 10))
    w.transaction("t-failed", "u-2", "128.00", "failed", local(2026, 4, 5, 11))
    # Created Friday, completed Tuesday: revenue on Tuesday.
    w.transaction("t-late", "u-3", "0.25", "pending", local(2026, 4, 3, 10))
    w.complete("t-late", local(2026, 4, 7, 9))
    w.transaction("t-last-instant", "u-1", "0.99", "completed", local(2026, 4, 9) - MICROSECOND)
    w.transaction("t-at-the-end", "u-1", "500.00", "completed", local(2026, 4, 9))


def test_revenue_per_local_day_over_a_week_with_the_25_hour_day(client: TestClient, writer: Writer) -> None:
    _revenue_week(writer)
    params = {"interval": "day", "tz": TZ, "from": "2026-04-02", "to": "2026-04-09"}
    response = client.get(SERIES, params={"metric": "revenue", **params})
    assert response.status_code == 200
    body = json.loads(response.text, parse_float=Decimal)
    assert {k: body[k] for k in ("metric", "interval", "tz", "from", "to")} == {
        "metric": "revenue",
        "interval": "day",
        "tz": TZ,
        "from": "2026-04-01T11:00:00.000Z",
        "to": "2026-04-08T12:00:00.000Z",
    }
    assert edges(body) == DST_END_WEEK
    assert values(body) == ["0.10", "0.00", "1.01", "30.30", "32.32", "0.25", "0.99"]
    assert str(body["total"]) == "64.97" == str(sum(Decimal(v) for v in values(body)))
    # Money is written to the cent in the JSON text itself.
    assert '"value":30.30' in response.text and '"value":0.00' in response.text
    assert response.text.endswith('"total":64.97}')


def test_from_and_to_as_times_with_offsets_resolve_to_the_same_days(client: TestClient) -> None:
    _revenue_week(ApiWriter(client))
    by_date = series(client, "revenue", interval="day", tz=TZ, **{"from": "2026-04-02", "to": "2026-04-09"})
    # A `+` left raw in the query string arrives as a space; the offset must survive it.
    raw = client.get(
        f"{SERIES}?metric=revenue&interval=day&tz={TZ}&from=2026-04-02T00:00:00+13:00&to=2026-04-09T00:00:00+12:00"
    )
    assert json.loads(raw.text, parse_float=Decimal) == by_date
    # `from` inside a day moves back to that day's local midnight; `to` inside a day moves on to its end.
    inside = series(
        client,
        "revenue",
        interval="day",
        tz=TZ,
        **{"from": "2026-04-02T03:30:00Z", "to": "2026-04-08T11:00:00.000001Z"},
    )
    assert inside == by_date


# --- month ends ---------------------------------------------------------------------------------------


def _month_ends(w: Writer) -> None:
    w.transaction("t-dec-31", "u-1", "128.00", "completed", local(2026, 1, 1) - MICROSECOND)
    w.transaction("t-jan-3", "u-1", "1.00", "completed", local(2026, 1, 3, 12))
    w.transaction("t-jan-31", "u-1", "2.00", "completed", local(2026, 2, 1) - MICROSECOND)
    w.transaction("t-feb-1", "u-1", "4.00", "completed", local(2026, 2, 1))
    w.transaction("t-feb-28", "u-1", "8.00", "completed", local(2026, 3, 1) - MICROSECOND)
    w.transaction("t-mar-1", "u-1", "16.00", "completed", local(2026, 3, 1))
    w.transaction("t-mar-20", "u-1", "32.00", "completed", local(2026, 3, 20))
    w.transaction("t-apr-1", "u-1", "64.00", "completed", local(2026, 4, 1))


def test_revenue_per_month_and_per_day_across_month_ends(client: TestClient, writer: Writer) -> None:
    _month_ends(writer)
    window = {"tz": TZ, "from": "2026-01-31", "to": "2026-03-02"}

    months = series(client, "revenue", interval="month", **window)
    # Whole local months, Jan 1 .. Apr 1 00:00 NZDT: January's 3rd and March's 20th count too.
    assert (months["from"], months["to"]) == ("2025-12-31T11:00:00.000Z", "2026-03-31T11:00:00.000Z")
    assert edges(months) == spans("2025-12-31 11:00", "2026-01-31 11:00", "2026-02-28 11:00", "2026-03-31 11:00")
    assert values(months) == ["3.00", "12.00", "48.00"]
    assert str(months["total"]) == "63.00"

    days = series(client, "revenue", interval="day", **window)
    assert (days["from"], days["to"]) == ("2026-01-30T11:00:00.000Z", "2026-03-01T11:00:00.000Z")
    assert len(days["points"]) == 30  # Jan 31, 28 days of February, Mar 1
    assert days["points"][1] == {
        "start": "2026-01-31T11:00:00.000Z",
        "end": "2026-02-01T11:00:00.000Z",
        "value": Decimal("4.00"),
    }
    assert values(days) == ["2.00", "4.00", *["0.00"] * 26, "8.00", "16.00"]
    assert str(days["total"]) == "30.00"

    weeks = series(client, "revenue", interval="week", tz=TZ, **{"from": "2026-01-31", "to": "2026-02-03"})
    # Mon Jan 26 and Mon Feb 2, 00:00 NZDT
    assert edges(weeks) == spans("2026-01-25 11:00", "2026-02-01 11:00", "2026-02-08 11:00")
    assert values(weeks) == ["6.00", "0.00"]


# --- every metric across the 23-hour day --------------------------------------------------------------

# Sat 2026-09-26 .. Mon 2026-09-28 in Auckland; Sunday 27 September is 23 hours long.
DST_START_DAYS = spans("2026-09-25 12:00", "2026-09-26 12:00", "2026-09-27 11:00", "2026-09-28 11:00")


def _dst_start_days(w: Writer) -> None:
    w.transaction("t-1", "u-1", "10.00", "pending", local(2026, 9, 26, 10), "c-1")
    w.complete("t-1", local(2026, 9, 27, 9))  # created Saturday, completed Sunday
    w.transaction("t-2", "u-2", "5.00", "completed", local(2026, 9, 26, 11), "c-1")
    w.transaction("t-3", "u-3", "7.00", "failed", local(2026, 9, 27, 3))  # the first instant after the jump
    w.transaction("t-4", "u-1", "1.00", "pending", local(2026, 9, 28) - MICROSECOND)
    w.transaction("t-5", "u-4", "2.50", "completed", local(2026, 9, 28), "c-2")
    w.view("c-1", "u-5", local(2026, 9, 26, 8))
    w.view("c-1", None, local(2026, 9, 26, 9))
    w.view("c-2", None, local(2026, 9, 26, 23, 59))
    for i in range(32):
        w.view("c-2", None, local(2026, 9, 28, 12) + timedelta(seconds=i))
    w.activity("u-1", local(2026, 9, 26, 12))
    w.activity("u-2", local(2026, 9, 28, 18))
    w.activity("u-6", local(2026, 9, 29))  # the end: outside
    w.activity("u-7", local(2026, 9, 26) - MICROSECOND)  # before the start: outside


DST_START_WINDOW = {"interval": "day", "tz": TZ, "from": "2026-09-26", "to": "2026-09-29"}


def test_every_metric_per_local_day_across_the_23_hour_day(client: TestClient, writer: Writer) -> None:
    _dst_start_days(writer)

    transactions = series(client, "transactions", **DST_START_WINDOW)
    assert edges(transactions) == DST_START_DAYS
    # By creation time and current status: t-1 was created pending on Saturday and is completed now.
    assert [{k: p[k] for k in ("pending", "completed", "failed", "total")} for p in transactions["points"]] == [
        {"pending": 0, "completed": 2, "failed": 0, "total": 2},
        {"pending": 1, "completed": 0, "failed": 1, "total": 2},
        {"pending": 0, "completed": 1, "failed": 0, "total": 1},
    ]
    assert transactions["total"] == {"pending": 1, "completed": 3, "failed": 1, "total": 5}

    revenue = series(client, "revenue", **DST_START_WINDOW)
    assert values(revenue) == ["5.00", "10.00", "2.50"] and str(revenue["total"]) == "17.50"

    purchases = series(client, "purchases", **DST_START_WINDOW)  # by completion time
    assert [p["value"] for p in purchases["points"]] == [1, 1, 1] and purchases["total"] == 3

    views = series(client, "views", **DST_START_WINDOW)
    assert [p["value"] for p in views["points"]] == [3, 0, 32] and views["total"] == 35

    conversion = series(client, "conversion", **DST_START_WINDOW)
    # 1/3 -> 33.33; no views -> 0.00; 1/32 = 3.125 -> 3.13 (half-up); overall 3/35 = 8.571.. -> 8.57
    assert values(conversion) == ["33.33", "0.00", "3.13"] and str(conversion["total"]) == "8.57"

    active = series(client, "active_users", **DST_START_WINDOW)
    # Sat: u-1, u-2, u-5; Sun: u-1 (completion, t-4), u-3; Mon: u-4, u-2. Over the range: 5, not 7.
    assert [p["value"] for p in active["points"]] == [3, 2, 2] and active["total"] == 5

    for body in (revenue, purchases, views, conversion, active):
        assert edges(body) == DST_START_DAYS
        assert (body["from"], body["to"]) == ("2026-09-25T12:00:00.000Z", "2026-09-28T11:00:00.000Z")


def test_until_counts_only_what_happened_before_it_and_cuts_its_bucket_there(
    client: TestClient, writer: Writer
) -> None:
    _dst_start_days(writer)
    # Monday 12:00:16: 16 of Monday's 32 views (12:00:00 to 12:00:31), u-2's 18:00 activity not yet.
    until = local(2026, 9, 28, 12, 0, 16).isoformat()
    views = series(client, "views", **DST_START_WINDOW, until=until)
    assert [p["value"] for p in views["points"]] == [3, 0, 16] and views["total"] == 19
    assert [(p["start"], p["end"]) for p in views["points"]][-1] == (
        "2026-09-27T11:00:00.000Z",
        "2026-09-27T23:00:16.000Z",
    )
    assert (views["from"], views["to"]) == ("2026-09-25T12:00:00.000Z", "2026-09-27T23:00:16.000Z")
    active = series(client, "active_users", **DST_START_WINDOW, until=until)
    assert [p["value"] for p in active["points"]] == [3, 2, 1] and active["total"] == 5
    # Sunday 09:00: Monday is left out, t-1's completion at 09:00 (until is exclusive) not yet.
    sunday = local(2026, 9, 27, 9).isoformat()
    purchases = series(client, "purchases", **DST_START_WINDOW, until=sunday)
    assert [p["value"] for p in purchases["points"]] == [1, 0] and purchases["total"] == 1
    transactions = series(client, "transactions", **DST_START_WINDOW, until=sunday)
    # Transactions count by creation time and current status (as without `until`): t-1 is completed now.
    assert transactions["total"] == {"pending": 0, "completed": 2, "failed": 1, "total": 3}
    # Past the range's end it changes nothing.
    assert series(client, "views", **DST_START_WINDOW, until="2026-10-30") == series(
        client, "views", **DST_START_WINDOW
    )


def test_rows_written_by_sql_and_by_the_api_mix_and_count_alike(client: TestClient) -> None:
    api, direct = ApiWriter(client), SqlWriter(client)
    direct.transaction("t-sql-sql", "u-1", "1.00", "pending", local(2026, 9, 26, 1))
    direct.complete("t-sql-sql", local(2026, 9, 27, 1))
    api.transaction("t-api-sql", "u-2", "2.00", "pending", local(2026, 9, 26, 2))
    direct.complete("t-api-sql", local(2026, 9, 27, 4))
    direct.transaction("t-sql-api", "u-3", "4.00", "pending", local(2026, 9, 26, 3))
    api.complete("t-sql-api", local(2026, 9, 28, 1))
    # A completed row the platform wrote without completed_at counts at its creation.
    sql(
        client,
        "INSERT INTO transactions (id, user_id, amount, currency, status, created_at)"
        " VALUES ('t-no-completed-at', 'u-4', :amount, 'USD', 'completed', :at)",
        amount="8.00" if service_of(client).engine.dialect.name == "sqlite" else Decimal("8.00"),
        at=db_time(client, (local(2026, 9, 28) - MICROSECOND).astimezone(UTC)),  # Sunday's last microsecond
    )
    assert values(series(client, "revenue", **DST_START_WINDOW)) == ["0.00", "11.00", "4.00"]
    counts = series(client, "transactions", **DST_START_WINDOW)
    assert [p["completed"] for p in counts["points"]] == [3, 1, 0]
    assert counts["total"] == {"pending": 0, "completed": 4, "failed": 0, "total": 4}
    active = series(client, "active_users", **DST_START_WINDOW)
    # Sat: the creations of u-1, u-2, u-3; Sun: the completions of u-1, u-2, and u-4; Mon: u-3's completion.
    assert [p["value"] for p in active["points"]] == [3, 3, 1] and active["total"] == 4


def test_sql_rows_at_a_bucket_edge_with_a_zero_fraction_fall_in_the_later_bucket(client: TestClient) -> None:
    # `db_time` writes `HH:MM:SS.000000` on SQLite; the edge is the same instant as the bucket's start.
    direct = SqlWriter(client)
    direct.transaction("t-edge", "u-1", "3.00", "completed", local(2026, 9, 27))
    direct.view("c-1", "u-1", local(2026, 9, 28))
    direct.activity("u-2", local(2026, 9, 28))
    assert values(series(client, "revenue", **DST_START_WINDOW)) == ["0.00", "3.00", "0.00"]
    assert [p["value"] for p in series(client, "views", **DST_START_WINDOW)["points"]] == [0, 0, 1]
    assert [p["value"] for p in series(client, "active_users", **DST_START_WINDOW)["points"]] == [0, 1, 2]


# --- top content and the funnel -----------------------------------------------------------------------

OCTOBER_WEEK = {"from": "2026-10-01T00:00:00Z", "to": "2026-10-08T00:00:00Z"}


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def _content(w: Writer) -> None:
    # Views are written in an order that is not the expected order of ties.
    for content_id, count in (("c-d", 4), ("c-b", 4), ("c-a", 4), ("c-c", 2), ("c-f", 1)):
        for i in range(count):
            w.view(content_id, f"u-{content_id}-{i}", utc(2026, 10, 2) + timedelta(minutes=i))
    w.view("c-f", None, utc(2026, 10, 8))  # at the end: outside
    w.view("c-f", None, utc(2026, 10, 1) - MICROSECOND)  # before the start: outside
    w.transaction("t-d1", "u-1", "10.00", "completed", utc(2026, 10, 3), "c-d")
    w.transaction("t-a1", "u-1", "10.00", "completed", utc(2026, 10, 3, 1), "c-a")
    w.transaction("t-b1", "u-2", "3.00", "completed", utc(2026, 10, 4), "c-b")
    w.transaction("t-b2", "u-3", "3.00", "completed", utc(2026, 10, 4, 1), "c-b")
    w.transaction("t-c1", "u-4", "10.00", "pending", utc(2026, 9, 30), "c-c")  # started before the range
    w.complete("t-c1", utc(2026, 10, 5))
    w.transaction("t-c2", "u-5", "10.00", "failed", utc(2026, 10, 5), "c-c")
    w.transaction("t-e1", "u-6", "1.00", "completed", utc(2026, 10, 6), "c-e")  # bought, never viewed
    w.transaction("t-f1", "u-7", "99.00", "pending", utc(2026, 10, 6), "c-f")
    w.transaction("t-a2", "u-1", "50.00", "completed", utc(2026, 10, 8), "c-a")  # at the end: outside
    w.transaction("t-x", "u-8", "5.00", "completed", utc(2026, 10, 3))  # no content


FIGURES = {
    "c-a": {"views": 4, "purchases": 1, "revenue": "10.00", "conversionRate": "25.00"},
    "c-b": {"views": 4, "purchases": 2, "revenue": "6.00", "conversionRate": "50.00"},
    "c-c": {"views": 2, "purchases": 1, "revenue": "10.00", "conversionRate": "50.00"},
    "c-d": {"views": 4, "purchases": 1, "revenue": "10.00", "conversionRate": "25.00"},
    "c-e": {"views": 0, "purchases": 1, "revenue": "1.00", "conversionRate": "0.00"},
    "c-f": {"views": 1, "purchases": 0, "revenue": "0.00", "conversionRate": "0.00"},
}


def undescribed(content_id: str) -> dict[str, Any]:
    """A top-content item of content the catalogue does not describe: shown by its id."""
    return {"contentId": content_id, "title": content_id, "category": None, **FIGURES[content_id]}


@pytest.mark.parametrize(
    ("by", "order"),
    [
        # Equal values are ordered by views (descending), then by contentId (ascending).
        ("views", ["c-a", "c-b", "c-d", "c-c", "c-f", "c-e"]),
        ("purchases", ["c-b", "c-a", "c-d", "c-c", "c-e", "c-f"]),
        ("revenue", ["c-a", "c-d", "c-c", "c-b", "c-e", "c-f"]),
        ("conversion", ["c-b", "c-c", "c-a", "c-d", "c-f", "c-e"]),
    ],
)
def test_top_content_ranks_with_a_deterministic_tie_order(
    client: TestClient, writer: Writer, by: str, order: list[str]
) -> None:
    _content(writer)
    body = get_json(client, TOP, {"by": by, **OCTOBER_WEEK})
    assert {k: body[k] for k in ("by", "from", "to", "limit")} == {
        "by": by,
        "from": "2026-10-01T00:00:00.000Z",
        "to": "2026-10-08T00:00:00.000Z",
        "limit": 10,
    }
    assert [as_text(item) for item in body["items"]] == [as_text(undescribed(cid)) for cid in order]
    limited = get_json(client, TOP, {"by": by, "limit": "3", **OCTOBER_WEEK})
    assert limited["limit"] == 3
    assert [item["contentId"] for item in limited["items"]] == order[:3]


@pytest.mark.parametrize(
    ("by", "min_views", "order"),
    [
        # c-e (0 views), c-f (1) and c-c (2) have too few views to rank at 3; c-a, c-b and c-d have 4.
        ("conversion", "3", ["c-b", "c-a", "c-d"]),
        ("conversion", "2", ["c-b", "c-c", "c-a", "c-d"]),
        ("revenue", "4", ["c-a", "c-d", "c-b"]),
        ("views", "5", []),
        ("conversion", "0", ["c-b", "c-c", "c-a", "c-d", "c-f", "c-e"]),
    ],
)
def test_top_content_leaves_out_content_with_fewer_views_than_min_views(
    client: TestClient, writer: Writer, by: str, min_views: str, order: list[str]
) -> None:
    _content(writer)
    body = get_json(client, TOP, {"by": by, "minViews": min_views, **OCTOBER_WEEK})
    assert body["minViews"] == int(min_views)
    assert [as_text(item) for item in body["items"]] == [as_text(undescribed(cid)) for cid in order]
    answer = client.get(TOP, params={"by": by, "minViews": min_views, "format": "csv", **OCTOBER_WEEK})
    assert [row["contentId"] for row in csv.DictReader(io.StringIO(answer.text))] == order


def test_top_content_without_min_views_leaves_nothing_out(client: TestClient, writer: Writer) -> None:
    _content(writer)
    body = get_json(client, TOP, {"by": "conversion", **OCTOBER_WEEK})
    assert body["minViews"] == 0 and len(body["items"]) == 6


def test_funnel_overall_and_for_one_content(client: TestClient, writer: Writer) -> None:
    _content(writer)

    def funnel(content_id: str | None) -> dict[str, Any]:
        params = OCTOBER_WEEK if content_id is None else {**OCTOBER_WEEK, "contentId": content_id}
        body = get_json(client, FUNNEL, params)
        assert (body["from"], body["to"], body["contentId"], body["title"], body["category"]) == (
            "2026-10-01T00:00:00.000Z",
            "2026-10-08T00:00:00.000Z",
            content_id,
            content_id,  # not in the catalogue: shown by its id (null for all content)
            None,
        )
        return {
            "steps": [(s["step"], s["count"], str(s["rate"])) for s in body["steps"]],
            "overall": str(body["overallRate"]),
        }

    # 15 views; 8 transactions created in the range (t-c1 began before it), 6 of them completed.
    assert funnel(None) == {
        "steps": [("views", 15, "100.00"), ("started", 8, "53.33"), ("completed", 6, "75.00")],
        "overall": "40.00",
    }
    assert funnel("c-b") == {
        "steps": [("views", 4, "100.00"), ("started", 2, "50.00"), ("completed", 2, "100.00")],
        "overall": "50.00",
    }
    assert funnel("c-c") == {
        "steps": [("views", 2, "100.00"), ("started", 1, "50.00"), ("completed", 0, "0.00")],
        "overall": "0.00",
    }
    assert funnel("c-unknown") == {
        "steps": [("views", 0, "0.00"), ("started", 0, "0.00"), ("completed", 0, "0.00")],
        "overall": "0.00",
    }


# --- users: new and returning, the heatmap ------------------------------------------------------------


def _users(w: Writer) -> None:
    w.activity("u-old", local(2026, 4, 1, 12))  # first seen before the range
    w.activity("u-old", local(2026, 4, 4, 10, 20))
    w.activity("u-1", local(2026, 4, 4, 10))
    w.activity("u-4", local(2026, 4, 5) - MICROSECOND)  # Saturday's last microsecond
    w.activity("u-4", local(2026, 4, 5))  # Sunday's first
    w.activity("u-1", local(2026, 4, 5, 2, 30))  # 02:30 NZDT
    w.activity("u-1", local(2026, 4, 5, 2, 10, fold=1))  # 02:10 NZST, an hour later in real time
    w.activity("u-2", local(2026, 4, 5, 2, 30, fold=1))  # 02:30 NZST
    w.view("c-1", "u-3", local(2026, 4, 6, 9, 15))
    w.activity("u-3", local(2026, 4, 6, 9, 45))
    w.activity("u-1", local(2026, 4, 6, 9, 30))
    w.activity("u-late", local(2026, 4, 7))  # the end: outside


USERS_WINDOW = {"tz": TZ, "from": "2026-04-04", "to": "2026-04-07"}
HEATMAP_CELLS = [(d, h) for d in range(7) for h in range(24)]


def test_users_new_and_returning_per_local_day_and_the_heatmap(client: TestClient, writer: Writer) -> None:
    _users(writer)
    body = get_json(client, USERS, USERS_WINDOW)
    assert (body["from"], body["to"], body["tz"]) == ("2026-04-03T11:00:00.000Z", "2026-04-06T12:00:00.000Z", TZ)
    assert body["days"] == [
        # Sat: u-old returns, u-1 and u-4 are new.
        {
            "date": "2026-04-04",
            "start": "2026-04-03T11:00:00.000Z",
            "end": "2026-04-04T11:00:00.000Z",
            "active": 3,
            "new": 2,
            "returning": 1,
        },
        # Sun (25 h): u-1 and u-4 return, u-2 is new.
        {
            "date": "2026-04-05",
            "start": "2026-04-04T11:00:00.000Z",
            "end": "2026-04-05T12:00:00.000Z",
            "active": 3,
            "new": 1,
            "returning": 2,
        },
        # Mon: u-1 returns, u-3 is new.
        {
            "date": "2026-04-06",
            "start": "2026-04-05T12:00:00.000Z",
            "end": "2026-04-06T12:00:00.000Z",
            "active": 2,
            "new": 1,
            "returning": 1,
        },
    ]
    heatmap = body["heatmap"]
    assert [(c["weekday"], c["hour"]) for c in heatmap] == HEATMAP_CELLS
    assert {(c["weekday"], c["hour"]): c["activeUsers"] for c in heatmap if c["activeUsers"]} == {
        (5, 10): 2,  # Sat 10:00: u-old, u-1
        (5, 23): 1,  # Sat 23:00: u-4
        (6, 0): 1,  # Sun 00:00: u-4
        (6, 2): 3,  # Sun 02:00 twice: u-1 in the NZDT hour; u-1 and u-2 in the NZST hour
        (0, 9): 2,  # Mon 09:00: u-3 (a view and an activity, once), u-1
    }


def test_the_heatmap_covers_the_same_resolved_range_as_the_days(client: TestClient) -> None:
    w = ApiWriter(client)
    w.activity("u-early", local(2026, 4, 6, 8, 30))
    w.activity("u-inside", local(2026, 4, 6, 9, 30))
    w.activity("u-late", local(2026, 4, 6, 20))
    body = get_json(client, USERS, {"tz": TZ, "from": "2026-04-06T09:00:00+12:00", "to": "2026-04-06T10:00:00+12:00"})
    # The answer resolves the range to Monday, local midnight to midnight, and says so ...
    assert (body["from"], body["to"]) == ("2026-04-05T12:00:00.000Z", "2026-04-06T12:00:00.000Z")
    assert [(d["date"], d["active"]) for d in body["days"]] == [("2026-04-06", 3)]
    # ... so the heatmap, "summed over the range", holds the same three users.
    assert {(c["weekday"], c["hour"]): c["activeUsers"] for c in body["heatmap"] if c["activeUsers"]} == {
        (0, 8): 1,
        (0, 9): 1,
        (0, 20): 1,
    }


# --- CSV ----------------------------------------------------------------------------------------------


def _everything(client: TestClient) -> None:
    w = ApiWriter(client)
    _dst_start_days(w)
    _content(w)


CSV_CASES = [
    pytest.param(SERIES, {"metric": m, **DST_START_WINDOW}, "points", "start,end,value", id=f"timeseries-{m}")
    for m in ("revenue", "active_users", "views", "purchases", "conversion")
] + [
    pytest.param(
        SERIES,
        {"metric": "transactions", **DST_START_WINDOW},
        "points",
        "start,end,pending,completed,failed,total",
        id="timeseries-transactions",
    ),
    pytest.param(
        SERIES,
        {"metric": "revenue", "interval": "hour", "tz": "Asia/Kathmandu", "from": "2026-09-26", "to": "2026-09-27"},
        "points",
        "start,end,value",
        id="timeseries-hours-kathmandu",
    ),
    pytest.param(
        TOP,
        {"by": "revenue", **OCTOBER_WEEK},
        "items",
        "contentId,title,category,views,purchases,revenue,conversionRate",
        id="top",
    ),
    pytest.param(FUNNEL, OCTOBER_WEEK, "steps", "step,count,rate", id="funnel"),
    pytest.param(FUNNEL, {"contentId": "c-b", **OCTOBER_WEEK}, "steps", "step,count,rate", id="funnel-c-b"),
    pytest.param(
        USERS, {"part": "days", **DST_START_WINDOW}, "days", "date,start,end,active,new,returning", id="users-days"
    ),
    pytest.param(
        USERS, {"part": "heatmap", **DST_START_WINDOW}, "heatmap", "weekday,hour,activeUsers", id="users-heatmap"
    ),
]


@pytest.mark.parametrize(("path", "params", "key", "header"), CSV_CASES)
def test_csv_has_the_same_rows_as_json(
    client: TestClient, path: str, params: dict[str, str], key: str, header: str
) -> None:
    _everything(client)
    rows = get_json(client, path, params)[key]
    assert rows, "the scenario must give rows"
    response = client.get(path, params={**params, "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "text/csv"
    assert response.text.split("\n", 1)[0] == header
    assert list(csv.DictReader(io.StringIO(response.text))) == [as_text(row) for row in rows]


def test_csv_money_and_timestamps_are_written_as_in_json(client: TestClient) -> None:
    _dst_start_days(ApiWriter(client))
    response = client.get(SERIES, params={"metric": "revenue", "format": "csv", **DST_START_WINDOW})
    assert response.text == (
        "start,end,value\n"
        "2026-09-25T12:00:00.000Z,2026-09-26T12:00:00.000Z,5.00\n"
        "2026-09-26T12:00:00.000Z,2026-09-27T11:00:00.000Z,10.00\n"
        "2026-09-27T11:00:00.000Z,2026-09-28T11:00:00.000Z,2.50\n"
    )


def test_csv_without_rows_still_has_its_header_line(client: TestClient) -> None:
    # No content was seen in the range: no items, but a CSV reader still needs the columns.
    response = client.get(TOP, params={"format": "csv", **OCTOBER_WEEK})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "text/csv"
    assert response.text == "contentId,title,category,views,purchases,revenue,conversionRate\n"


# --- limits and defaults ------------------------------------------------------------------------------


def test_a_range_of_exactly_1000_buckets_is_answered(client: TestClient) -> None:
    ApiWriter(client).view("c-1", None, utc(2026, 10, 1, 16, 39, 30))
    params = {"metric": "views", "interval": "minute", "from": "2026-10-01T00:00:00Z"}
    body = series(client, **params, to="2026-10-01T16:40:00Z")  # 1000 minutes
    assert len(body["points"]) == 1000
    assert body["points"][-1] == {"start": "2026-10-01T16:39:00.000Z", "end": "2026-10-01T16:40:00.000Z", "value": 1}
    assert body["total"] == 1
    assert problems(client.get(SERIES, params={**params, "to": "2026-10-01T16:40:00.000001Z"})) == ["interval"]


def test_users_over_the_default_30_days_are_answered(client: TestClient) -> None:
    # The default range is the last 30 days: 30 days, 720 hourly buckets behind the heatmap.
    ApiWriter(client).activity("u-1", NOW - timedelta(days=2, minutes=30))
    body = get_json(client, USERS, {})
    assert (body["from"], body["to"], body["tz"]) == ("2026-10-02T00:00:00.000Z", "2026-11-01T00:00:00.000Z", "UTC")
    assert len(body["days"]) == 30 and len(body["heatmap"]) == 168
    assert sum(d["active"] for d in body["days"]) == 1
    assert {(c["weekday"], c["hour"]) for c in body["heatmap"] if c["activeUsers"]} == {(3, 23)}  # Thu 29 Oct


# --- 422 ----------------------------------------------------------------------------------------------

DAY = {"from": "2026-10-01", "to": "2026-10-02"}


def test_an_unknown_metric_gets_the_contract_error_shape(client: TestClient) -> None:
    response = client.get(SERIES, params={"metric": "profit", **DAY})
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "validation_error",
            "message": "1 invalid parameter",
            "details": [
                {
                    "field": "metric",
                    "message": "must be one of: revenue, transactions, active_users, views, purchases, conversion",
                }
            ],
        }
    }


@pytest.mark.parametrize(
    ("path", "params", "fields"),
    [
        (SERIES, {**DAY}, ["metric"]),
        (SERIES, {"metric": "revenue", "interval": "fortnight", **DAY}, ["interval"]),
        (SERIES, {"metric": "revenue", "tz": "Mars/Olympus_Mons", **DAY}, ["tz"]),
        (SERIES, {"metric": "revenue", "tz": "../../etc/passwd", **DAY}, ["tz"]),
        (SERIES, {"metric": "revenue", "from": "yesterday", "to": "2026-10-02"}, ["from"]),
        (SERIES, {"metric": "revenue", "from": "2026-10-01T00:00:00", "to": "2026-10-02"}, ["from"]),
        (SERIES, {"metric": "revenue", "from": "2026-10-01", "to": "2026-13-01"}, ["to"]),
        (SERIES, {"metric": "revenue", "from": "2026-10-02", "to": "2026-10-01"}, ["to"]),
        (SERIES, {"metric": "revenue", "from": "2026-10-02", "to": "2026-10-02"}, ["to"]),
        (SERIES, {"metric": "revenue", "from": "2026-10-02", "to": "2026-10-03", "until": "2026-10-02"}, ["until"]),
        (SERIES, {"metric": "revenue", "until": "soon", **DAY}, ["until"]),
        (SERIES, {"metric": "revenue", "format": "xml", **DAY}, ["format"]),
        (SERIES, {"metric": "views", "interval": "minute", **DAY}, ["interval"]),  # 1440 buckets
        (SERIES, {"metric": "profit", "interval": "day", "tz": "Nowhere", **DAY}, ["metric", "tz"]),
        (TOP, {"by": "likes", **DAY}, ["by"]),
        (TOP, {"limit": "0", **DAY}, ["limit"]),
        (TOP, {"limit": "101", **DAY}, ["limit"]),
        (TOP, {"limit": "-1", **DAY}, ["limit"]),
        (TOP, {"limit": "ten", **DAY}, ["limit"]),
        (TOP, {"from": "2026-10-02", "to": "2026-10-01"}, ["to"]),
        (TOP, {"minViews": "-1", **DAY}, ["minViews"]),
        (TOP, {"minViews": "1.5", **DAY}, ["minViews"]),
        (TOP, {"minViews": "1000000001", **DAY}, ["minViews"]),
        (FUNNEL, {"from": "2026-10-01T00:00:00+25:00", "to": "2026-10-02"}, ["from"]),
        (FUNNEL, {"contentId": "c" * 201, **DAY}, ["contentId"]),
        (USERS, {"part": "weeks", **DAY}, ["part"]),
        (USERS, {"tz": "Not/A_Zone", **DAY}, ["tz"]),
    ],
)
def test_bad_parameters_are_422_naming_each_field(
    client: TestClient, path: str, params: dict[str, str], fields: list[str]
) -> None:
    assert problems(client.get(path, params=params)) == fields


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limits_at_the_bounds_are_accepted(client: TestClient, limit: str) -> None:
    assert get_json(client, TOP, {"limit": limit, **DAY})["limit"] == int(limit)


def test_too_many_buckets_says_so(client: TestClient) -> None:
    response = client.get(SERIES, params={"metric": "views", "interval": "minute", **DAY})
    assert problems(response) == ["interval"]
    assert "1000" in response.json()["error"]["details"][0]["message"]


def test_users_over_more_than_a_year_is_422_naming_the_range_not_an_interval(client: TestClient) -> None:
    # /users has no `interval` parameter: its hourly heatmap caps the range, which is `from`/`to`.
    response = client.get(USERS, params={"from": "2025-09-01", "to": "2026-10-01"})
    fields = problems(response)
    assert len(fields) == 1 and fields[0] in ("from", "to")
    assert "interval" not in response.json()["error"]["details"][0]["message"]


# --- what the parameter schemas say, exactly ------------------------------------------------------

# Every query parameter of every analytics endpoint, with two valid values.
REPEATABLE = [
    (SERIES, {}, "metric", ("revenue", "views")),
    (SERIES, {"metric": "revenue"}, "interval", ("day", "hour")),
    (SERIES, {"metric": "revenue"}, "from", ("2026-10-01", "2026-10-02")),
    (SERIES, {"metric": "revenue"}, "to", ("2026-10-02", "2026-10-03")),
    (SERIES, {"metric": "revenue"}, "tz", ("UTC", "Europe/Berlin")),
    (SERIES, {"metric": "revenue"}, "format", ("json", "csv")),
    (TOP, {}, "by", ("views", "revenue")),
    (TOP, {}, "limit", ("5", "5")),  # the same value twice is refused too
    (TOP, {}, "tz", ("UTC", "UTC")),
    (TOP, {}, "minViews", ("0", "10")),
    (FUNNEL, {}, "contentId", ("c-1", "c-2")),
    (FUNNEL, {}, "from", ("2026-10-01", "2026-10-02")),
    (USERS, {}, "part", ("days", "heatmap")),
    (USERS, {}, "format", ("json", "csv")),
]


@pytest.mark.parametrize(("path", "base", "name", "values"), REPEATABLE)
def test_a_parameter_given_more_than_once_is_422_naming_it(
    client: TestClient, path: str, base: dict[str, str], name: str, values: tuple[str, str]
) -> None:
    query = [*base.items(), (name, values[0]), (name, values[1])]
    response = client.get(path, params=query)
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "validation_error",
            "message": "1 invalid parameter",
            "details": [{"field": name, "message": "given more than once"}],
        }
    }
    assert client.get(path, params=[*base.items(), (name, values[1])]).status_code == 200


def test_a_repeated_required_parameter_is_reported_as_repeated_not_missing(client: TestClient) -> None:
    response = client.get(SERIES, params=[("metric", "revenue"), ("metric", "views"), ("tz", "Nowhere")])
    assert response.json()["error"]["details"] == [
        {"field": "metric", "message": "given more than once"},
        {"field": "tz", "message": "'Nowhere' is not an IANA time zone (for example Europe/Berlin)"},
    ]


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_each_problem_is_listed_once(client: TestClient, interval: str) -> None:
    # Before: `from` out of the calendar was listed, and then the default `from` computed from it
    # was listed again under the same field.
    response = client.get(
        SERIES, params={"metric": "revenue", "interval": interval, "from": "0001-01-01", "to": "0001-02-01"}
    )
    bound = (
        "must be a date (2026-11-01) or an RFC 3339 time with an offset (2026-11-01T00:00:00Z),"
        " in the years 0003 to 9998"
    )
    assert response.json()["error"]["details"] == [
        {"field": "from", "message": bound},
        {"field": "to", "message": bound},
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("tz", ""),
        ("from", ""),
        ("to", ""),
        ("from", "2026-W44-1"),  # an ISO week date: date.fromisoformat reads it, the description does not
        ("from", "20261101"),
        ("from", "2026-11-01T00:00Z"),  # seconds are required
        ("from", "2026-11-01t00:00:00z"),
        ("from", "2026-11-01T00:00:00+0100"),
        ("from", "2026-02-29"),
        ("from", "0002-12-31"),
        ("to", "9999-01-01"),
        ("tz", "posix/Europe/Berlin"),
        ("tz", "localtime"),
    ],
)
def test_values_outside_the_parameter_schema_are_422(client: TestClient, name: str, value: str) -> None:
    assert problems(client.get(USERS, params={name: value})) == [name]


@pytest.mark.parametrize(
    ("bounds", "start"),
    [
        ({"from": "2028-02-29", "to": "2028-03-01"}, "2028-02-29T00:00:00.000Z"),  # a leap day
        ({"from": "2026-03-01T00:00:00.5+05:45", "to": "2026-03-02"}, "2026-02-28T00:00:00.000Z"),
        ({"from": "2026-03-01T00:00:00 01:00", "to": "2026-03-02"}, "2026-02-28T00:00:00.000Z"),  # an unencoded +
        ({"from": "0003-01-01", "to": "0003-01-02"}, "0003-01-01T00:00:00.000Z"),
        ({"from": "9998-12-30", "to": "9998-12-31T23:59:59.999999-23:59"}, "9998-12-30T00:00:00.000Z"),
    ],
)
def test_values_inside_the_parameter_schema_are_answered(
    client: TestClient, bounds: dict[str, str], start: str
) -> None:
    assert get_json(client, USERS, {**bounds, "tz": "UTC"})["from"] == start


def test_a_time_zone_alias_is_accepted_and_echoed_as_given(client: TestClient) -> None:
    body = get_json(client, SERIES, {"metric": "views", "tz": "US/Eastern", **DAY})
    assert body["tz"] == "US/Eastern"
    assert body["from"] == "2026-10-01T04:00:00.000Z"  # local midnight, EDT
