"""Parsing and validating ingest bodies: the fast paths answer exactly as the exact ones.

`parse_json` reads with orjson and falls back to the standard parser (fractions as Decimals) when
orjson's reading could be inexact; `validate_events` validates a whole batch in one call and falls
back to event by event to list every problem.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from server.errors import InvalidJSON, ValidationFailed
from server.events import TransactionEvent, has_control_characters, parse_json, validate_events

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


def _exact(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "transaction", "id": "t", "userId": "u", "amount": 12.5, "status": "pending"}',
        b'{"events": [{"type": "transaction", "id": "t", "amount": 0.1, "status": "pending"}]}',
        b'{"events": [{"type": "user_activity", "userId": "u", "at": 1.7e9}]}',
        b'{"amount": 123456789012345678901234567890}',
        b'{"amount": -9223372036854775809}',
        b'{"amount": 18446744073709551615}',
        b'{"events": [{"type": "user_activity", "userId": {"nested": [1.25]}}]}',
        b'\xef\xbb\xbf{"type": "user_activity", "userId": "u"}',
        b'{"userId": "\\ud800"}',
        b'{"a": 1, "a": 2.50}',
        b"[1.0, [2.0, [3.0, [4.0]]]]",
        b'"just a string"',
        b"12.34",
    ],
)
def test_any_body_reads_as_the_exact_parser_reads_it(body: bytes) -> None:
    parsed = parse_json(body)
    assert parsed == _exact(body)
    assert repr(parsed) == repr(_exact(body))  # Decimal('12.5'), never 12.5


def test_a_plain_batch_is_read_with_plain_types() -> None:
    body = b'{"events": [{"type": "transaction", "id": "t", "userId": "u", "amount": "12.50", "status": "pending"}]}'
    assert parse_json(body) == {
        "events": [{"type": "transaction", "id": "t", "userId": "u", "amount": "12.50", "status": "pending"}]
    }


@pytest.mark.parametrize("body", [b"", b"{", b"NaN", b'{"a": Infinity}', b'{"a": -Infinity}', b"[1,]", b"\xff"])
def test_what_is_not_json_stays_invalid(body: bytes) -> None:
    with pytest.raises(InvalidJSON):
        parse_json(body)


def test_deep_nesting_is_invalid_json_not_a_crash() -> None:
    with pytest.raises(InvalidJSON):
        parse_json(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("u-1", False), ("", False), ("ü 🙂", False), ("a\x00b", True), ("\x1f", True), ("x\x7f", True), ("\x80", False)],
)
def test_control_characters(value: str, expected: bool) -> None:
    assert has_control_characters(value) is expected


def _validate(events: list[Any]) -> list[Any]:
    return validate_events(
        {"events": events}, now=NOW, currency="USD", max_events=1000, future_tolerance=timedelta(minutes=5)
    )


def test_a_valid_batch_gives_the_events_event_by_event_validation_gives() -> None:
    raw = [
        {"type": "user_activity", "userId": "u-1", "at": "2026-11-27T09:59:00.123Z", "eventId": "e-1"},
        {"type": "content_view", "contentId": "c-1", "userId": "u-1", "at": "2026-11-27T10:59:00+01:00"},
        {"type": "content_view", "contentId": "c-2"},
        {
            "type": "transaction",
            "id": "t-1",
            "userId": "u-1",
            "amount": "12.50",
            "currency": "USD",
            "status": "pending",
        },
        {"type": "transaction", "id": "t-1", "status": "completed", "at": "2026-11-27T10:01:00Z"},
    ]
    batch = _validate(raw)
    one_by_one = [_validate([event])[0] for event in raw]
    assert batch == one_by_one
    assert isinstance(batch[3], TransactionEvent) and batch[3].amount == Decimal("12.50")


def test_every_problem_is_listed_in_index_order_whatever_its_kind() -> None:
    raw = [
        {"type": "user_activity", "userId": "u-1", "at": "2026-11-27T10:06:00Z"},  # valid shape, in the future
        {"type": "user_activity"},
        {"type": "transaction", "id": "t-1", "userId": "u", "amount": "1", "currency": "EUR", "status": "pending"},
        7,
        {"type": "content_view", "contentId": "c\x00"},
    ]
    with pytest.raises(ValidationFailed) as caught:
        _validate(raw)
    assert caught.value.details == [
        {"index": 0, "field": "at", "message": "is more than 5 minutes in the future"},
        {"index": 1, "field": "userId", "message": "Field required"},
        {"index": 2, "field": "currency", "message": "must be USD, the deployment's currency"},
        {"index": 3, "field": "", "message": "an event must be a JSON object"},
        {"index": 4, "field": "contentId", "message": "must not contain control characters"},
    ]
