"""Parsing and validating ingest bodies: JSON bytes in, typed events or every problem out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
)
from pydantic import ValidationError as PydanticValidationError

from server.errors import InvalidJSON, PayloadTooLarge, ValidationFailed

MAX_AMOUNT = Decimal("9999999999.99")


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    # PostgreSQL refuses NUL in text, and no control character belongs in an id.
    return _CONTROL_CHARACTER.search(value) is not None


def _printable(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_printable)]


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError('must be a decimal number or a string such as "12.50"')
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a decimal number") from exc
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount <= 0:
        raise ValueError("must be greater than zero")
    if amount > MAX_AMOUNT:
        raise ValueError("must be at most 9999999999.99")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("must have at most 2 decimal places")
    return amount.quantize(Decimal("0.01"))


Amount = Annotated[Decimal, BeforeValidator(_amount)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: AwareDatetime | None = None


class UserActivityEvent(_Event):
    type: Literal["user_activity"]
    userId: Identifier
    eventId: Identifier | None = None


class ContentViewEvent(_Event):
    type: Literal["content_view"]
    contentId: Identifier
    userId: Identifier | None = None
    eventId: Identifier | None = None


class TransactionEvent(_Event):
    """Creates a transaction, or moves the status of the one with this `id`.

    `userId` and `amount` are required only for a new transaction; that is checked against the
    database in `server.storage.ingest`.
    """

    type: Literal["transaction"]
    id: Identifier
    status: Literal["pending", "completed", "failed"]
    userId: Identifier | None = None
    contentId: Identifier | None = None
    amount: Amount | None = None
    currency: str | None = None


Event = Annotated[UserActivityEvent | ContentViewEvent | TransactionEvent, Field(discriminator="type")]
_EVENT = TypeAdapter(Event)
_EVENTS = TypeAdapter(list[Event])


@dataclass(frozen=True)
class Problem:
    index: int
    field: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON: NaN and Infinity refused, numbers with a fraction kept as exact Decimals."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # the exact parser below decides, and words the error
    else:
        if _read_exactly(document):
            return document
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidJSON(f"request body is not valid JSON: {exc}") from None


def _read_exactly(value: Any, depth: int = 0) -> bool:
    """Whether orjson's reading of a body is exact: it holds no binary float (orjson reads fractions
    and integers beyond 64 bits as floats) and nothing nested deeper than a batch's event fields
    (such a body is invalid anyway; the exact parser reads it)."""
    kind = type(value)
    if kind is dict:
        values: Any = value.values()
    elif kind is list:
        values = value
    else:
        return kind is not float
    if depth == 3:
        return False
    for item in values:
        kind = type(item)
        if kind is float or ((kind is dict or kind is list) and not _read_exactly(item, depth + 1)):
            return False
    return True


def _field_of(loc: tuple[int | str, ...]) -> str:
    # loc is (tag, field, ...) for a known type, () or (tag,) when the tag itself is wrong.
    parts = [str(p) for p in loc[1:]]
    return ".".join(parts) if parts else "type"


def _message(error: Any) -> str:
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return "type must be one of: user_activity, content_view, transaction"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _check_event(index: int, event: Event, latest: datetime, currency: str, problems: list[Problem]) -> None:
    """What the schema cannot say: `at` in range and not in the future, the deployment's currency."""
    if event.at is not None:
        try:
            at = event.at.astimezone(UTC)
        except OverflowError:
            problems.append(Problem(index, "at", "is out of range"))
            return
        if at > latest:  # both in UTC: compared without asking each offset again
            problems.append(Problem(index, "at", "is more than 5 minutes in the future"))
    if isinstance(event, TransactionEvent) and event.currency is not None and event.currency != currency:
        problems.append(Problem(index, "currency", f"must be {currency}, the deployment's currency"))


def validate_events(
    document: Any, *, now: datetime, currency: str, max_events: int, future_tolerance: timedelta
) -> list[Event]:
    """Every event of a body (`{...}` or `{"events": [...]}`), or ValidationFailed listing every problem."""
    if isinstance(document, dict) and "events" in document and "type" not in document:
        raw_events = document["events"]
        extra = sorted(set(document) - {"events"})
        if not isinstance(raw_events, list):
            raise ValidationFailed("events must be a list", [Problem(0, "events", "must be a list").to_dict()])
        if extra:
            problems = [Problem(0, name, "unknown field").to_dict() for name in extra]
            raise ValidationFailed("the batch has unknown fields", problems)
    else:
        raw_events = [document]
    if len(raw_events) > max_events:
        raise PayloadTooLarge(f"a batch holds at most {max_events} events, this one has {len(raw_events)}")

    latest = now + future_tolerance
    problems: list[Problem] = []
    try:
        # The whole batch in one call (the common case: every event is well formed) ...
        events: list[Event] = _EVENTS.validate_python(raw_events)
    except PydanticValidationError:
        pass
    else:
        for index, event in enumerate(events):
            _check_event(index, event, latest, currency, problems)
        return _valid(events, problems)
    # ... else event by event, to list every problem with its index.
    events = []
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            problems.append(Problem(index, "", "an event must be a JSON object"))
            continue
        try:
            event = _EVENT.validate_python(raw)
        except PydanticValidationError as exc:
            problems.extend(Problem(index, _field_of(e["loc"]), _message(e)) for e in exc.errors())
            continue
        _check_event(index, event, latest, currency, problems)
        events.append(event)
    return _valid(events, problems)


def _valid(events: list[Event], problems: list[Problem]) -> list[Event]:
    if problems:
        count = len(problems)
        raise ValidationFailed(
            f"{count} problem{'s' if count > 1 else ''} in the events; nothing was stored",
            [p.to_dict() for p in problems],
        )
    return events
