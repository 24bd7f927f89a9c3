"""How tables read and download: counts with separators, money with its currency, rates with `%`,
and the same rows as CSV for a download button beside every table and chart."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import streamlit as st
from babel.numbers import get_currency_symbol

from dashboard.format import LOCALE

# Streamlit's own number formats (the browser's locale for separators) for the currencies it knows;
# any other amount keeps two decimals and separators, its currency named in the header.
_CURRENCY_FORMATS = {"USD": "dollar", "EUR": "euro", "JPY": "yen"}


def count_column(label: str) -> Any:
    return st.column_config.NumberColumn(label, format="localized")


def money_column(label: str, currency: str) -> Any:
    preset = _CURRENCY_FORMATS.get(currency)
    if preset is not None:
        return st.column_config.NumberColumn(label, format=preset)
    return st.column_config.NumberColumn(
        f"{label} ({get_currency_symbol(currency, locale=LOCALE)})", format="accounting"
    )


def rate_column(label: str) -> Any:
    return st.column_config.NumberColumn(label, format="%.2f%%")


def csv_bytes(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    """The rows' `columns` as CSV with a header line; a missing value is an empty field."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if row.get(k) is None else row[k]) for k in columns} for row in rows)
    return out.getvalue().encode()


def download(label: str, data: bytes, file_name: str, *, key: str) -> None:
    """A CSV download that does not rerun the page when clicked."""
    st.download_button(
        label, data, file_name=file_name, mime="text/csv", on_click="ignore", icon=":material/download:", key=key
    )
