"""The history endpoints as rows and DataFrames, against a running sidecar: rows are the JSON's
rows with money exact, and each DataFrame row equals its JSON row."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pandas

from metrics_client import ApiClient
from server.settings import Settings
from tests.support.live import serve

SALES = [("2026-11-01T10:00:00+01:00", "1204.50"), ("2026-11-02T10:00:00+01:00", "1300.00")]
QUERY = {"interval": "day", "start": "2026-11-01", "end": "2026-11-04", "tz": "Europe/Berlin"}


def _sales(address: str) -> None:
    events = [
        {"type": "transaction", "id": f"nov-{n}", "userId": "u-1", "amount": amount, "status": "completed", "at": at}
        for n, (at, amount) in enumerate(SALES)
    ]
    assert httpx.post(f"http://{address}/api/v1/events", json={"events": events}).status_code == 200


def _json(address: str, path: str, params: dict[str, str]) -> dict[str, object]:
    answer = httpx.get(f"http://{address}{path}", params=params)
    assert answer.status_code == 200, answer.text
    return json.loads(answer.text, parse_float=Decimal)  # type: ignore[no-any-return]


def test_timeseries_rows_are_the_json_points_with_money_exact(settings: Settings) -> None:
    with serve(settings) as address:
        _sales(address)
        rows = ApiClient(f"http://{address}").timeseries_rows("revenue", **QUERY)
        answer = _json(
            address,
            "/api/v1/analytics/timeseries",
            {"metric": "revenue", "interval": "day", "from": "2026-11-01", "to": "2026-11-04", "tz": "Europe/Berlin"},
        )
    assert rows == answer["points"]
    assert [str(row["value"]) for row in rows] == ["1204.50", "1300.00", "0.00"]


def test_frame_rows_equal_the_json_rows(settings: Settings) -> None:
    with serve(settings) as address:
        _sales(address)
        api = ApiClient(f"http://{address}")
        frame = api.timeseries_frame("revenue", **QUERY)
        rows = api.timeseries_rows("revenue", **QUERY)
        top = api.top_content_frame(by="revenue")
        top_rows = api.top_content_rows(by="revenue")
    assert list(frame.columns) == ["start", "end", "value"]
    assert str(frame["start"].dt.tz) == "UTC"
    for record, row in zip(frame.to_dict("records"), rows, strict=True):
        assert record["start"] == pandas.Timestamp(row["start"])
        assert record["end"] == pandas.Timestamp(row["end"])
        assert record["value"] == row["value"] and isinstance(record["value"], Decimal)
    assert top.to_dict("records") == top_rows


def test_funnel_and_user_day_rows_are_the_json_rows(settings: Settings) -> None:
    with serve(settings) as address:
        _sales(address)
        api = ApiClient(f"http://{address}")
        funnel = api.funnel_rows(start="2026-11-01", end="2026-11-04")
        days = api.user_day_rows(start="2026-11-01", end="2026-11-04", tz="Europe/Berlin")
        funnel_json = _json(address, "/api/v1/analytics/funnel", {"from": "2026-11-01", "to": "2026-11-04"})
        users_json = _json(
            address, "/api/v1/analytics/users", {"from": "2026-11-01", "to": "2026-11-04", "tz": "Europe/Berlin"}
        )
    assert funnel == funnel_json["steps"] and [row["step"] for row in funnel] == ["views", "started", "completed"]
    assert days == users_json["days"] and len(days) == 3
