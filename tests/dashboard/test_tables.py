"""Table columns and CSV downloads: money in its currency, counts with separators, rows as CSV."""

from __future__ import annotations

from dashboard.tables import count_column, csv_bytes, money_column, rate_column


def test_money_columns_use_the_currency_or_name_it_in_the_header() -> None:
    usd = money_column("Revenue", "USD")
    assert (usd["label"], usd["type_config"]["format"]) == ("Revenue", "dollar")
    assert money_column("Revenue", "EUR")["type_config"]["format"] == "euro"
    # Streamlit has no preset for pounds: two decimals with separators, the symbol in the header.
    gbp = money_column("Revenue", "GBP")
    assert (gbp["label"], gbp["type_config"]["format"]) == ("Revenue (£)", "accounting")


def test_counts_and_rates() -> None:
    assert count_column("Views")["type_config"]["format"] == "localized"
    assert rate_column("Conversion")["type_config"]["format"] == "%.2f%%"


def test_csv_has_a_header_the_chosen_columns_and_empty_fields_for_none() -> None:
    rows = [{"step": "views", "count": 1000, "rate": 100.0, "extra": "x"}, {"step": "started", "count": None}]
    assert csv_bytes(rows, ("step", "count", "rate")) == b"step,count,rate\nviews,1000,100.0\nstarted,,\n"
    assert csv_bytes([], ("step",)) == b"step\n"
