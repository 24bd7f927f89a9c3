"""Exact money and percentages: integer cents in, Decimals to the cent out, halves rounded up."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

CENT = Decimal("0.01")


def cents_to_money(cents: int) -> Decimal:
    """`12345` -> `Decimal("123.45")`."""
    return (Decimal(cents) / 100).quantize(CENT)


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal:
    """`part / whole * 100`, exact, rounded half away from zero to 2 decimals; `whole` must not be 0."""
    hundredths = Fraction(part) * 100 * 100 / Fraction(whole)
    sign = -1 if hundredths < 0 else 1
    rounded = sign * int(abs(hundredths) + Fraction(1, 2))
    return (Decimal(rounded) / 100).quantize(CENT)
