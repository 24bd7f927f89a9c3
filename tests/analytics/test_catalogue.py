"""The catalogue in the analytics answers, on every stack: titles and categories described through
the API (`content` events) and by plain SQL into `content` show in top content, the breakdown by
category, the funnel and their CSV; content the catalogue does not describe is shown by its id and
grouped as uncategorised (`category: null`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.analytics.test_endpoints import (
    FIGURES,
    FUNNEL,
    OCTOBER_WEEK,
    TOP,
    ApiWriter,
    Writer,
    _content,
    as_text,
    client,  # noqa: F401  (the fixture, on every stack)
    get_json,
    problems,
    writer,  # noqa: F401
)
from tests.support.helpers import sql

CATEGORIES = "/api/v1/analytics/content/categories"
Describe = Callable[[str, str | None, str | None], None]


@pytest.fixture(params=["api", "sql"])
def describe(request: pytest.FixtureRequest, client: TestClient) -> Describe:  # noqa: F811
    """Describes a content the way the parameter says: a `content` event, or an upsert into `content`."""

    def by_api(content_id: str, title: str | None, category: str | None) -> None:
        event = {"type": "content", "contentId": content_id, "title": title, "category": category}
        answer = client.post("/api/v1/events", json={k: v for k, v in event.items() if v is not None})
        assert answer.json() == {"accepted": 1, "duplicates": 0}, answer.text

    def by_sql(content_id: str, title: str | None, category: str | None) -> None:
        sql(
            client,
            "INSERT INTO content (id, title, category) VALUES (:id, :title, :category)"
            " ON CONFLICT (id) DO UPDATE SET title = excluded.title, category = excluded.category",
            id=content_id,
            title=title,
            category=category,
        )

    return by_api if request.param == "api" else by_sql


def _catalogue(describe: Describe) -> None:
    # c-a and c-d are Music, c-b Cooking; c-c has a category but no title; c-e and c-f are not described.
    describe("c-a", "Intro to Jazz", "Music")
    describe("c-b", "Knife Skills", "Cooking")
    describe("c-c", None, "Cooking")
    describe("c-d", "Blues Guitar", "Music")
    describe("c-zz", "Never seen", "Dance")  # described, but neither seen nor bought in the range


def _item(content_id: str, title: str, category: str | None) -> dict[str, str]:
    return as_text({"contentId": content_id, "title": title, "category": category, **FIGURES[content_id]})


def test_top_content_shows_titles_and_categories_and_the_id_where_there_is_no_title(
    client: TestClient,  # noqa: F811
    writer: Writer,  # noqa: F811
    describe: Describe,
) -> None:
    _content(writer)
    _catalogue(describe)
    body = get_json(client, TOP, {"by": "views", **OCTOBER_WEEK})
    assert [as_text(item) for item in body["items"]] == [
        _item("c-a", "Intro to Jazz", "Music"),
        _item("c-b", "Knife Skills", "Cooking"),
        _item("c-d", "Blues Guitar", "Music"),
        _item("c-c", "c-c", "Cooking"),
        _item("c-f", "c-f", None),
        _item("c-e", "c-e", None),
    ]
    answer = client.get(TOP, params={"by": "views", "format": "csv", **OCTOBER_WEEK})
    assert answer.text.splitlines()[:3] == [
        "contentId,title,category,views,purchases,revenue,conversionRate",
        "c-a,Intro to Jazz,Music,4,1,10.00,25.00",
        "c-b,Knife Skills,Cooking,4,2,6.00,50.00",
    ]
    assert answer.text.splitlines()[-1] == "c-e,c-e,,0,1,1.00,0.00"


def test_a_new_description_shows_in_the_next_answer(client: TestClient, describe: Describe) -> None:  # noqa: F811
    _content(ApiWriter(client))
    describe("c-a", "Intro to Jazz", "Music")
    describe("c-a", "Jazz, an Introduction", "Jazz")  # the latest wins
    first = get_json(client, TOP, {"by": "views", "limit": "1", **OCTOBER_WEEK})["items"][0]
    assert (first["contentId"], first["title"], first["category"]) == ("c-a", "Jazz, an Introduction", "Jazz")


def test_categories_sum_their_content_and_group_the_uncategorised_as_null(
    client: TestClient,  # noqa: F811
    writer: Writer,  # noqa: F811
    describe: Describe,
) -> None:
    _content(writer)
    _catalogue(describe)
    # Music: c-a + c-d; Cooking: c-b + c-c; uncategorised: c-e (bought, never viewed) + c-f.
    music = {"category": "Music", "contents": 2, "views": 8, "purchases": 2, "revenue": "20.00"}
    cooking = {"category": "Cooking", "contents": 2, "views": 6, "purchases": 3, "revenue": "16.00"}
    other = {"category": None, "contents": 2, "views": 1, "purchases": 1, "revenue": "1.00"}
    rates = {"Music": "25.00", "Cooking": "50.00", None: "100.00"}

    def row(group: dict[str, Any]) -> dict[str, str]:
        return as_text({**group, "conversionRate": rates[group["category"]]})

    body = get_json(client, CATEGORIES, {"by": "views", **OCTOBER_WEEK})
    assert {k: body[k] for k in ("by", "from", "to", "limit")} == {
        "by": "views",
        "from": "2026-10-01T00:00:00.000Z",
        "to": "2026-10-08T00:00:00.000Z",
        "limit": 100,
    }
    assert [as_text(item) for item in body["items"]] == [row(music), row(cooking), row(other)]
    by_conversion = get_json(client, CATEGORIES, {"by": "conversion", **OCTOBER_WEEK})["items"]
    assert [item["category"] for item in by_conversion] == [None, "Cooking", "Music"]
    by_revenue = get_json(client, CATEGORIES, {"by": "revenue", "limit": "1", **OCTOBER_WEEK})["items"]
    assert [item["category"] for item in by_revenue] == ["Music"]

    answer = client.get(CATEGORIES, params={"by": "views", "format": "csv", **OCTOBER_WEEK})
    assert answer.headers["content-type"].split(";")[0] == "text/csv"
    assert list(csv.DictReader(io.StringIO(answer.text))) == [row(music), row(cooking), row(other)]
    assert answer.text.splitlines()[0] == "category,contents,views,purchases,revenue,conversionRate"


def test_without_a_catalogue_everything_is_one_uncategorised_group(client: TestClient) -> None:  # noqa: F811
    _content(ApiWriter(client))
    items = get_json(client, CATEGORIES, OCTOBER_WEEK)["items"]
    assert [as_text(item) for item in items] == [
        as_text(
            {
                "category": None,
                "contents": 6,
                "views": 15,
                "purchases": 6,
                "revenue": "37.00",
                "conversionRate": "40.00",
            }
        )
    ]
    empty = client.get(CATEGORIES, params={"format": "csv", "from": "2020-01-01", "to": "2020-01-02"})
    assert empty.text == "category,contents,views,purchases,revenue,conversionRate\n"


def test_the_funnel_names_the_chosen_content_by_its_title(
    client: TestClient,  # noqa: F811
    writer: Writer,  # noqa: F811
    describe: Describe,
) -> None:
    _content(writer)
    _catalogue(describe)

    def named(content_id: str | None) -> tuple[Any, ...]:
        params = OCTOBER_WEEK if content_id is None else {**OCTOBER_WEEK, "contentId": content_id}
        body = get_json(client, FUNNEL, params)
        return body["contentId"], body["title"], body["category"], body["steps"][0]["count"]

    assert named("c-b") == ("c-b", "Knife Skills", "Cooking", 4)
    assert named("c-c") == ("c-c", "c-c", "Cooking", 2)  # no title: its id
    assert named("c-f") == ("c-f", "c-f", None, 1)  # not described
    assert named(None) == (None, None, None, 15)


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"by": "likes"}, ["by"]),
        ({"limit": "0"}, ["limit"]),
        ({"limit": "1001"}, ["limit"]),
        ({"from": "2026-10-02", "to": "2026-10-01"}, ["to"]),
        ({"format": "xml"}, ["format"]),
    ],
)
def test_bad_category_parameters_are_422_naming_each_field(
    client: TestClient,  # noqa: F811
    params: dict[str, str],
    fields: list[str],
) -> None:
    assert problems(client.get(CATEGORIES, params={**OCTOBER_WEEK, **params})) == fields
