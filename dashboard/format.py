"""How numbers read on the dashboard: money to the cent with its symbol, counts with separators."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import format_currency

LOCALE = "en_US"


def money(value: float | Decimal | str, currency: str) -> str:
    """`$125,000.50`: exact (the JSON number is read as a decimal string, never rounded twice)."""
    return format_currency(Decimal(str(value)), currency, locale=LOCALE)


def money_delta(change: Decimal, currency: str) -> str:
    """`+$12.50`, `-$3.00`; no change is `$0.00`, without a sign that would read as a rise."""
    sign = "+" if change > 0 else "-" if change < 0 else ""
    return sign + money(abs(change), currency)


def delta_style(change: Decimal | int | None, color: str = "normal") -> dict[str, Any]:
    """`st.metric` arguments for a change: grey and without an arrow when it is zero (a green up
    arrow on `+$0.00` tells of a rise that did not happen), else `color` (`inverse` where less is better)."""
    if change is not None and change == 0:
        return {"delta_color": "off", "delta_arrow": "off"}
    return {"delta_color": color}


def count(value: int) -> str:
    return f"{value:,}"


def percent(value: float | Decimal | str) -> str:
    return f"{Decimal(str(value)):.2f}%"


def content_title(item: dict[str, Any]) -> str:
    """What a content is called on the dashboard: the catalogue's title the sidecar sent, else its id."""
    return str(item.get("title") or item["contentId"])


def content_choice(content_id: str, title: str) -> str:
    """A content in a picker: its title with its id, so that two equal titles stay apart."""
    return content_id if title == content_id else f"{title} ({content_id})"


def category(value: str | None) -> str:
    """A category as shown: content the catalogue gives none is uncategorised."""
    return "Uncategorised" if value is None else value


def age(seconds: float) -> str:
    """`updated 3 s ago`-style wording for a number of seconds."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")
    return f"{seconds // 3600} h" + (f" {seconds % 3600 // 60} min" if seconds % 3600 // 60 else "")
