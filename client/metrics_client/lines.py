"""How `tail` writes snapshots: JSON lines, or CSV with a header and the main figures.

CSV money and rates are written as the sidecar sent them (the client decodes them as `Decimal`),
so `12.50` stays `12.50` and a spreadsheet gets the exact cents.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Final, Literal

Format = Literal["json", "csv"]
FORMATS: Final = ("json", "csv")

# (column, path into the snapshot): the main figures, in the order of the REST answer.
CSV_COLUMNS: Final = (
    ("snapshotId", ("snapshotId",)),
    ("timestamp", ("timestamp",)),
    ("stale", ("stale",)),
    ("revenueTotal", ("revenue", "total")),
    ("revenueToday", ("revenue", "today")),
    ("revenueThisWeek", ("revenue", "thisWeek")),
    ("revenueThisMonth", ("revenue", "thisMonth")),
    ("activeUsersCurrent", ("activeUsers", "current")),
    ("activeUsersToday", ("activeUsers", "today")),
    ("activeUsersPeak24h", ("activeUsers", "peak24h")),
    ("transactionsTotal", ("transactions", "total")),
    ("transactionsPending", ("transactions", "pending")),
    ("transactionsCompleted", ("transactions", "completed")),
    ("transactionsFailed", ("transactions", "failed")),
    ("contentTotalViews", ("content", "totalViews")),
    ("contentTotalPurchases", ("content", "totalPurchases")),
    ("contentConversionRate", ("content", "conversionRate")),
)


def csv_header() -> str:
    return _csv_line([name for name, _ in CSV_COLUMNS])


def csv_row(snapshot: dict[str, Any]) -> str:
    """One line; a figure the snapshot lacks is an empty cell."""
    return _csv_line([_cell(_at(snapshot, path)) for _, path in CSV_COLUMNS])


def json_line(item: dict[str, Any]) -> str:
    return json.dumps(item, separators=(",", ":"))


def _at(snapshot: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = snapshot
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)  # a Decimal keeps its digits: Decimal("12.50") is "12.50"


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()
