"""How numbers read on the dashboard: money to the cent with its symbol, counts with separators."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency

LOCALE = "en_US"


def money(value: float | Decimal | str, currency: str) -> str:
    """`$125,000.50`: exact (the JSON number is read as a decimal string, never rounded twice)."""
    return format_currency(Decimal(str(value)), currency, locale=LOCALE)


def money_delta(change: Decimal, currency: str) -> str:
    sign = "+" if change >= 0 else "-"
    return sign + money(abs(change), currency)


def count(value: int) -> str:
    return f"{value:,}"


def percent(value: float | Decimal | str) -> str:
    return f"{Decimal(str(value)):.2f}%"


def age(seconds: float) -> str:
    """`updated 3 s ago`-style wording for a number of seconds."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")
    return f"{seconds // 3600} h" + (f" {seconds % 3600 // 60} min" if seconds % 3600 // 60 else "")
