"""The catalogue on every stack: `content` events upsert the `content` table (the latest
description wins, a repeat changes nothing), inside the batch's one transaction; rows written by
plain SQL read back the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.errors import Conflict, ValidationFailed
from server.events import validate_events
from server.storage import catalogue
from server.storage.catalogue import Description
from server.storage.ingest import IngestResult, store_events

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


async def _ingest(engine: AsyncEngine, events: list[dict[str, Any]]) -> IngestResult:
    validated = validate_events(
        {"events": events}, now=NOW, currency="USD", max_events=1000, future_tolerance=timedelta(minutes=5)
    )
    return await store_events(engine, validated, received_at=NOW, currency="USD")


async def _catalogue(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, title, category FROM content ORDER BY id"))
        return [tuple(row) for row in rows.all()]


def _content(content_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "content", "contentId": content_id, **fields}


async def test_descriptions_are_upserted_the_latest_winning_and_repeats_are_duplicates(engine: AsyncEngine) -> None:
    first = await _ingest(
        engine,
        [
            _content("c-1", title="Intro to Jazz", category="Music"),
            _content("c-2", title="Knife Skills"),
            {"type": "content_view", "contentId": "c-1"},
        ],
    )
    assert first == IngestResult(accepted=3, duplicates=0)
    assert await _catalogue(engine) == [("c-1", "Intro to Jazz", "Music"), ("c-2", "Knife Skills", None)]

    second = await _ingest(
        engine,
        [
            _content("c-1", title="Intro to Jazz", category="Music"),  # as stored: a duplicate
            _content("c-2", title="Knife Skills", category="Cooking"),  # the whole description replaces
            _content("c-3", title="Draft"),
            _content("c-3", title="Watercolour Basics", category="Art"),  # later in the batch: wins
            _content("c-3", title="Watercolour Basics", category="Art"),  # repeated in the batch
        ],
    )
    assert second == IngestResult(accepted=3, duplicates=2)
    assert await _catalogue(engine) == [
        ("c-1", "Intro to Jazz", "Music"),
        ("c-2", "Knife Skills", "Cooking"),
        ("c-3", "Watercolour Basics", "Art"),
    ]

    # A field left out is unknown from then on.
    assert await _ingest(engine, [_content("c-1", category="Jazz")]) == IngestResult(accepted=1, duplicates=0)
    assert (await _catalogue(engine))[0] == ("c-1", None, "Jazz")


async def test_a_batch_that_fails_stores_none_of_its_descriptions(engine: AsyncEngine) -> None:
    with pytest.raises(Conflict) as refused:
        await _ingest(
            engine, [_content("c-1", title="Kept out"), {"type": "transaction", "id": "t-9", "status": "completed"}]
        )
    # The problem names the transaction's own index in the batch, descriptions counted.
    assert refused.value.details == [
        {"index": 1, "field": "userId", "message": "required for a new transaction"},
        {"index": 1, "field": "amount", "message": "required for a new transaction"},
    ]
    assert await _catalogue(engine) == []


def test_a_description_with_an_empty_or_overlong_title_or_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate_events(
            {
                "events": [
                    _content("c-1", title=""),
                    _content("c-2", category="x" * 501),
                    _content("c-3", at="2026-11-27T09:00:00Z"),
                ]
            },
            now=NOW,
            currency="USD",
            max_events=1000,
            future_tolerance=timedelta(minutes=5),
        )
    assert refused.value.details == [
        {"index": 0, "field": "title", "message": "must be 1 to 500 characters"},
        {"index": 1, "field": "category", "message": "must be 1 to 500 characters"},
        {"index": 2, "field": "at", "message": "unknown field"},
    ]


async def test_rows_written_by_plain_sql_read_back_and_a_missing_title_falls_back_to_the_id(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO content (id, title, category)"
                " VALUES ('c-1', 'Intro to Jazz', 'Music'), ('c-2', NULL, 'Art')"
            )
        )
    async with engine.connect() as conn:
        found = await catalogue.read(conn, ["c-1", "c-2", "c-3"])
    assert found == {"c-1": Description("Intro to Jazz", "Music"), "c-2": Description(None, "Art")}
    assert [catalogue.title_of(cid, found.get(cid)) for cid in ("c-1", "c-2", "c-3")] == ["Intro to Jazz", "c-2", "c-3"]


async def test_reading_more_ids_than_one_statement_takes_finds_them_all(engine: AsyncEngine) -> None:
    await _ingest(engine, [_content(f"c-{n:04}", title=f"Title {n}") for n in range(1000)])
    await _ingest(engine, [_content(f"c-{n:04}", title=f"Title {n}") for n in range(1000, 1500)])
    async with engine.connect() as conn:
        found = await catalogue.read(conn, [f"c-{n:04}" for n in range(1600)])
    assert len(found) == 1500
    assert found["c-1499"] == Description("Title 1499", None)
