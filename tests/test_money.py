"""Exact money and percentages, rounded half away from zero to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.money import cents_to_money, percent


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (1, 3, "33.33"),
        (2, 3, "66.67"),
        (1, 8, "12.50"),
        (1, 800, "0.13"),  # 0.125: the half goes up
        (-1, 800, "-0.13"),  # and away from zero below it
        (Decimal("10.05"), Decimal("100"), "10.05"),
        (10**30 + 1, 10**32, "1.00"),  # no float, no 28-digit context in between
    ],
)
def test_percent_is_exact_and_rounds_halves_away_from_zero(
    part: int | Decimal, whole: int | Decimal, expected: str
) -> None:
    assert percent(part, whole) == Decimal(expected)
    assert str(percent(part, whole)) == expected


@pytest.mark.parametrize(
    ("cents", "expected"), [(0, "0.00"), (5, "0.05"), (-5, "-0.05"), (12_345_678_901, "123456789.01")]
)
def test_cents_become_money_to_the_cent(cents: int, expected: str) -> None:
    assert str(cents_to_money(cents)) == expected
