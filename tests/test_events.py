"""Parsing and validating ingest bodies: the fast paths answer exactly as the exact ones, and the
body's JSON Schema in `/openapi.json` accepts exactly what the validation accepts.

`parse_json` reads with orjson and falls back to the standard parser (fractions as Decimals) when
orjson's reading could be inexact; `validate_events` validates a whole batch in one call and lists
every problem of every event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest

from server.errors import InvalidJSON, ValidationFailed
from server.events import TransactionEvent, parse_json, validate_events
from server.fields import has_control_characters
from server.openapi import openapi_document

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
        # Several problems in one event: each is listed (the currency was not, next to a bad amount).
        {"type": "transaction", "id": "t-2", "userId": "u", "amount": "1.234", "currency": "EUR", "status": "new"},
    ]
    with pytest.raises(ValidationFailed) as caught:
        _validate(raw)
    assert caught.value.details == [
        {"index": 0, "field": "at", "message": "is more than 5 minutes in the future"},
        {"index": 1, "field": "userId", "message": "Field required"},
        {"index": 2, "field": "currency", "message": "must be USD, the deployment's currency"},
        {"index": 3, "field": "", "message": "an event must be a JSON object"},
        {"index": 4, "field": "contentId", "message": "must not contain control characters"},
        {"index": 5, "field": "status", "message": "Input should be 'pending', 'completed' or 'failed'"},
        {"index": 5, "field": "amount", "message": "must have at most 2 decimal places"},
        {"index": 5, "field": "currency", "message": "must be USD, the deployment's currency"},
    ]
    assert caught.value.message == "8 problems in the events; nothing was stored"


def test_a_single_event_lists_every_problem_too() -> None:
    event = {"type": "transaction", "id": "", "userId": "u", "amount": 0, "currency": "EUR", "status": "pending"}
    with pytest.raises(ValidationFailed) as caught:
        validate_events(event, now=NOW, currency="USD", max_events=1000, future_tolerance=timedelta(minutes=5))
    assert caught.value.details == [
        {"index": 0, "field": "id", "message": "must be 1 to 200 characters"},
        {"index": 0, "field": "amount", "message": "must be greater than zero"},
        {"index": 0, "field": "currency", "message": "must be USD, the deployment's currency"},
    ]


# Values at the edges of each rule, judged by the server and by the body's schema as served. The
# schema is exact when both say the same of each: (field, value, accepted).
EDGES = [
    ("amount", "12.50", True),
    ("amount", "0.01", True),
    ("amount", "0.1", True),
    ("amount", "5", True),
    ("amount", "9999999999.99", True),
    ("amount", 12.5, True),
    ("amount", 7, True),
    ("amount", "0", False),
    ("amount", "0.00", False),
    ("amount", "10000000000", False),
    ("amount", "12.500", False),
    ("amount", " 12.50", False),
    ("amount", "+12.50", False),
    ("amount", "012.50", False),
    ("amount", "1e2", False),
    ("amount", "1_000", False),
    ("amount", "\u0661\u0662", False),  # Arabic-Indic digits: Decimal() reads them as 12
    ("amount", "NaN", False),
    ("amount", 0, False),
    ("amount", 12.345, False),
    ("amount", 10000000000, False),
    ("amount", True, False),
    ("at", "2026-11-27T09:00:00Z", True),
    ("at", "2026-11-27T09:00:00.123456789+05:45", True),
    ("at", "2024-02-29T00:00:00-00:00", True),
    ("at", "0002-01-01T00:00:00+23:59", True),
    ("at", "2026-11-27 09:00:00Z", False),
    ("at", "2026-11-27t09:00:00z", False),
    ("at", "2026-11-27T09:00Z", False),
    ("at", "2026-11-27T09:00:00+0100", False),
    ("at", "2026-11-27T09:00:00", False),
    ("at", "2026-06-30T23:59:60Z", False),
    ("at", "2026-02-29T00:00:00Z", False),
    ("at", "2100-02-29T00:00:00Z", False),
    ("at", "0001-06-01T00:00:00Z", False),
    ("at", 1_700_000_000, False),
    ("at", "1700000000", False),
    ("id", "t" * 200, True),
    ("id", "t" * 201, False),
    ("id", "", False),
    ("id", "a\x7fb", False),
    ("id", "\u00e9\U0001f642 x", True),
    ("currency", "USD", True),
    ("currency", "usd", False),
    ("currency", "EUR", False),
]


@pytest.mark.parametrize(("field", "value", "accepted"), EDGES)
def test_the_schema_and_the_validation_agree(field: str, value: Any, accepted: bool) -> None:
    event = {"type": "transaction", "id": "t-1", "userId": "u", "amount": "1.00", "status": "pending", field: value}
    document = openapi_document(currency="USD")
    schema = jsonschema_rs.validator_for(
        {"$ref": "#/components/schemas/Event", "components": document["components"]}, validate_formats=True
    )
    assert schema.is_valid(event) is accepted
    sent = parse_json(json.dumps(event).encode())  # as the server reads it: numbers exactly
    if accepted:
        assert _validate([sent])
    else:
        with pytest.raises(ValidationFailed) as caught:
            _validate([sent])
        assert [d["field"] for d in caught.value.details] == [field]
