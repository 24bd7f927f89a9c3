"""Parsing and validating ingest bodies: JSON bytes in, typed events or every problem out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationInfo
from pydantic import ValidationError as PydanticValidationError

from server.errors import InvalidJSON, PayloadTooLarge, ValidationFailed
from server.fields import Amount, Currency, EventTime, Identifier, Label


def _not_in_future(value: datetime, info: ValidationInfo) -> datetime:
    """The deployment's clock decides, so the schema cannot: refused when later than `latest`."""
    latest: datetime | None = (info.context or {}).get("latest")
    if latest is None:
        return value
    try:
        at = value.astimezone(UTC)
    except OverflowError:  # past the end of year 9999 in UTC: the future, however it is counted
        raise ValueError("is more than 5 minutes in the future") from None
    if at > latest:  # both in UTC: compared without asking each offset again
        raise ValueError("is more than 5 minutes in the future")
    return value


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: Annotated[EventTime, AfterValidator(_not_in_future)] | None = Field(
        None,
        description="When it happened (a transaction's creation or status change); default: time of receipt."
        " Any past time (from the year 0002); more than 5 minutes after the server's clock is refused (422).",
    )


class UserActivityEvent(_Event):
    """A user did something."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"type": "user_activity", "userId": "u-1", "at": "2026-11-27T10:00:00Z"}]}
    )

    type: Literal["user_activity"]
    userId: Identifier
    eventId: Identifier | None = Field(None, description="Makes the event idempotent.")


class ContentViewEvent(_Event):
    """A content was viewed, by a known user or not."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"type": "content_view", "contentId": "c-9", "userId": "u-1"}]}
    )

    type: Literal["content_view"]
    contentId: Identifier
    userId: Identifier | None = None
    eventId: Identifier | None = Field(None, description="Makes the event idempotent.")


class TransactionEvent(_Event):
    """Creates a transaction, or moves the status of the one with this `id`.

    A new transaction needs `userId` and `amount`; a later event with the same `id` needs only
    `status` (fields it repeats must match the stored ones). Whether the id is new only the stored
    transactions tell: an event for an unknown id without `userId` and `amount` is a conflict (409).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "transaction",
                    "id": "t-77",
                    "userId": "u-1",
                    "contentId": "c-9",
                    "amount": "12.50",
                    "status": "pending",
                },
                {"type": "transaction", "id": "t-77", "status": "completed"},
            ]
        }
    )

    type: Literal["transaction"]
    id: Identifier
    status: Literal["pending", "completed", "failed"]
    userId: Identifier | None = None
    contentId: Identifier | None = None
    amount: Amount | None = None
    currency: Currency | None = None


class ContentEvent(BaseModel):
    """Describes a content of the catalogue (the `content` table): its title and category.

    The description is the whole of it: the latest one stored wins, and a field it leaves out is
    unknown (null) from then on. Sending the stored description again changes nothing (a duplicate).
    It has no `at`: a description is not a moment of the platform's traffic.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"type": "content", "contentId": "c-9", "title": "Intro to Jazz", "category": "Music"}]
        },
    )

    type: Literal["content"]
    contentId: Identifier
    title: Label | None = Field(None, description="What the content is called; shown wherever it is.")
    category: Label | None = Field(None, description="Its group in the breakdown by category.")


Event = Annotated[UserActivityEvent | ContentViewEvent | TransactionEvent | ContentEvent, Field(discriminator="type")]


class EventBatch(BaseModel):
    """Events stored all or nothing. A batch longer than `maxItems` is refused with 413
    (`payload_too_large`) before its events are read."""

    # The limit is a setting (Settings.max_batch_events): `server.openapi` writes it into the schema.

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[Event]


_EVENT: TypeAdapter[Event] = TypeAdapter(Event)
_BATCH = TypeAdapter(EventBatch)


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


def _problem(error: Any, batch: bool) -> Problem:
    # loc is ("events", i, tag, field, ...) in a batch, (tag, field, ...) for one event; the tag is
    # missing when the event is not an object or has no valid `type`. A batch's own fields: (name,).
    loc: tuple[int | str, ...] = error["loc"]
    index = 0
    if batch:
        if len(loc) < 2 or loc[0] != "events":
            return Problem(0, str(loc[0]), "must be a list" if loc == ("events",) else _message(error))
        index, loc = int(loc[1]), loc[2:]
    if error["type"] == "model_attributes_type" and not loc:
        return Problem(index, "", "an event must be a JSON object")
    parts = [str(p) for p in loc[1:]]
    return Problem(index, ".".join(parts) if parts else "type", _message(error))


def _message(error: Any) -> str:
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return "type must be one of: user_activity, content_view, transaction, content"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def validate_events(
    document: Any, *, now: datetime, currency: str, max_events: int, future_tolerance: timedelta
) -> list[Event]:
    """Every event of a body (`{...}` or `{"events": [...]}`), or ValidationFailed listing every
    problem of every event (in one pass: pydantic reports them all, with each event's index)."""
    context = {"currency": currency, "latest": now + future_tolerance}
    batch = isinstance(document, dict) and "events" in document and "type" not in document
    if batch and isinstance(document["events"], list) and len(document["events"]) > max_events:
        raise PayloadTooLarge(f"a batch holds at most {max_events} events, this one has {len(document['events'])}")
    try:
        if batch:
            return list(_BATCH.validate_python(document, context=context).events)
        return [_EVENT.validate_python(document, context=context)]
    except PydanticValidationError as exc:
        problems = [_problem(error, batch) for error in exc.errors()]
    count = len(problems)
    raise ValidationFailed(
        f"{count} problem{'s' if count > 1 else ''} in the events; nothing was stored", [p.to_dict() for p in problems]
    )
