"""Value types of the request shapes: each validator declared together with the JSON Schema that
describes it, so that `/openapi.json` says exactly what the sidecar accepts.

Where a pattern describes a value, the validator checks that same pattern first (Python's `re`
with `fullmatch`, which agrees with ECMA-262 on these plain patterns) and only then converts.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, PlainValidator, ValidationInfo, WithJsonSchema


def _anchored(pattern: str) -> str:
    return f"^{pattern}$"


def component(name: str) -> WithJsonSchema:
    """A value described by the document's `components/schemas/<name>` (large, or a setting), which
    `server.openapi` puts in place of this marker: pydantic resolves only the `$ref`s it made."""
    return WithJsonSchema({COMPONENT_KEY: name})


COMPONENT_KEY = "x-component"


# -- identifiers ---------------------------------------------------------------------------------

MAX_IDENTIFIER = 200
_CONTROL_FREE = r"[^\x00-\x1f\x7f]*"  # PostgreSQL refuses NUL in text, and no control character belongs in an id
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    return _CONTROL_CHARACTER.search(value) is not None


def _identifier(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not 1 <= len(value) <= MAX_IDENTIFIER:
        raise ValueError(f"must be 1 to {MAX_IDENTIFIER} characters")
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


Identifier = Annotated[
    str,
    PlainValidator(_identifier),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_IDENTIFIER, "pattern": _anchored(_CONTROL_FREE)}
    ),
]


# -- labels (the catalogue's titles and categories) -------------------------------------------------

MAX_LABEL = 500


def _label(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not 1 <= len(value) <= MAX_LABEL:
        raise ValueError(f"must be 1 to {MAX_LABEL} characters")
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


Label = Annotated[
    str,
    PlainValidator(_label),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_LABEL, "pattern": _anchored(_CONTROL_FREE)}),
]


# -- dates and times (RFC 3339) --------------------------------------------------------------------

# A day that exists: 29 February only in leap years (every 4th year, centuries only every 400th).
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"  # 0004..9996
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
_OFFSET_HOURS = "(?:[01][0-9]|2[0-3]):[0-5][0-9]"


def _date(year: str) -> str:
    # Every leap year 0004..9996 lies inside both year ranges below.
    return f"(?:{year}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"


# An event's time: years 0002 to 9999, so that it is a UTC instant whatever its offset (year 1 with
# a positive offset would begin before the calendar does). Anything late in 9999 is in the future.
_EVENT_YEAR = "(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
EVENT_TIME_PATTERN = _anchored(f"{_date(_EVENT_YEAR)}T{_TIME}(?:Z|[+-]{_OFFSET_HOURS})")
_EVENT_TIME = re.compile(EVENT_TIME_PATTERN)


def _event_time(value: Any) -> datetime:
    if isinstance(value, datetime):  # the Python API (`track_user_activity(at=...)`) hands in datetimes
        if value.utcoffset() is None:
            raise ValueError("must carry a UTC offset")
        return value
    if not isinstance(value, str) or not _EVENT_TIME.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, such as 2026-11-27T10:00:00Z")
    return datetime.fromisoformat(value)


EventTime = Annotated[
    datetime,
    PlainValidator(_event_time),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": EVENT_TIME_PATTERN}),
]

# A range's bound: years 0003 to 9998, so that whole buckets around it (a default span of up to a
# year before it, its month or week, a day either side in any zone) stay inside the calendar.
_RANGE_YEAR = "(?:000[3-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
# An unencoded `+` in a query string arrives as a space, so a space stands for the offset's `+`.
RANGE_BOUND_PATTERN = _anchored(f"{_date(_RANGE_YEAR)}(?:T{_TIME}(?:Z|[ +-]{_OFFSET_HOURS}))?")
_RANGE_BOUND = re.compile(RANGE_BOUND_PATTERN)


def _range_bound(value: Any) -> date | datetime:
    if not isinstance(value, str) or not _RANGE_BOUND.fullmatch(value):
        raise ValueError(
            "must be a date (2026-11-01) or an RFC 3339 time with an offset (2026-11-01T00:00:00Z),"
            " in the years 0003 to 9998"
        )
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value[:19] + value[19:].replace(" ", "+"))


RangeBound = Annotated[
    date | datetime,
    PlainValidator(_range_bound),
    WithJsonSchema({"type": "string", "pattern": RANGE_BOUND_PATTERN}),
]


# -- time zones --------------------------------------------------------------------------------------

# The IANA names this machine's tz database (and the pinned `tzdata` package) holds, aliases such
# as `US/Eastern` included. `localtime` is not a zone but this host's own setting. Names ZoneInfo
# would also open (`posix/...`, `right/...`, `posixrules`) are not offered, so not accepted either.
TIME_ZONES: frozenset[str] = frozenset(available_timezones() - {"localtime"})
TIME_ZONE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": sorted(TIME_ZONES),
    "description": "An IANA time zone name, such as Europe/Berlin.",
}


def _time_zone(value: Any) -> str:
    if not isinstance(value, str) or value not in TIME_ZONES:
        raise ValueError(f"{value!r} is not an IANA time zone (for example Europe/Berlin)")
    return value


TimeZoneName = Annotated[str, PlainValidator(_time_zone), component("TimeZone")]


# -- money ------------------------------------------------------------------------------------------------

MAX_AMOUNT = Decimal("9999999999.99")
# Greater than zero, at most 2 decimals, at most 10 digits before the point, no sign or padding.
AMOUNT_PATTERN = _anchored(r"(?:[1-9][0-9]{0,9}(?:\.[0-9]{1,2})?|0\.(?:[1-9][0-9]?|0[1-9]))")
_AMOUNT_TEXT = re.compile(AMOUNT_PATTERN)
_CENT = Decimal("0.01")


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError('must be a decimal number or a string such as "12.50"')
    if isinstance(value, str) and _AMOUNT_TEXT.fullmatch(value):
        return Decimal(value).quantize(_CENT)
    # A JSON number (read exactly, never as a binary float), or a string that is not written plainly:
    # say what is wrong with its value first.
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount <= 0:
        raise ValueError("must be greater than zero")
    if amount > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT}")
    if amount != amount.quantize(_CENT):
        raise ValueError("must have at most 2 decimal places")
    if isinstance(value, str):
        raise ValueError('must be written plainly, such as "12.50": digits, then at most 2 decimals')
    return amount.quantize(_CENT)


Amount = Annotated[
    Decimal,
    PlainValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN},
                {"type": "number", "exclusiveMinimum": 0, "maximum": float(MAX_AMOUNT), "multipleOf": 0.01},
            ]
        }
    ),
]


def _deployment_currency(value: str, info: ValidationInfo) -> str:
    expected = (info.context or {}).get("currency")
    if expected is not None and value != expected:
        raise ValueError(f"must be {expected}, the deployment's currency")
    return value


# The one value accepted is a setting (METRICS_CURRENCY): the document names it in `Currency`.
Currency = Annotated[str, AfterValidator(_deployment_currency), component("Currency")]


# -- query values --------------------------------------------------------------------------------------


def whole_number(low: int, high: int) -> tuple[PlainValidator, WithJsonSchema]:
    """An integer query parameter from `low` to `high`, as `Annotated[int, *whole_number(1, 100)]`.

    ASCII digits only: `int()` would also take signs, underscores, spaces and digits such as `²`,
    none of which an integer parameter allows."""

    def whole(value: Any) -> int:
        if not (isinstance(value, str) and value.isascii() and value.isdigit()) or not low <= int(value) <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return int(value)

    return PlainValidator(whole), WithJsonSchema({"type": "integer", "minimum": low, "maximum": high})
