"""The sidecar's history endpoints as plain rows (lists of dicts), and as pandas DataFrames with
the `pandas` extra (`pip install ./client[pandas]`).

    api = ApiClient("http://localhost:3000")
    api.timeseries_rows("revenue", interval="day", start="2026-11-01", end="2026-11-04", tz="Europe/Berlin")
    # [{"start": "2026-10-31T23:00:00.000Z", "end": "...", "value": Decimal("1204.50")}, ...]

Numbers with a fraction come as `Decimal`, exactly as the sidecar wrote them (money to the cent);
times stay the sidecar's UTC strings in rows and become timezone-aware timestamps in frames.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from metrics_client.protocol import FUNNEL_PATH, TIMESERIES_PATH, TOP_CONTENT_PATH, USERS_PATH

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas

Row = dict[str, Any]
_TIME_COLUMNS = ("start", "end")


class HistoryQueries:
    """Mixed into `ApiClient`: each query once as rows, once as a DataFrame."""

    def get(self, path: str, params: Mapping[str, str]) -> httpx.Response:
        raise NotImplementedError  # ApiClient's

    def timeseries_rows(
        self,
        metric: str,
        *,
        interval: str = "day",
        start: str | None = None,
        end: str | None = None,
        tz: str | None = None,
    ) -> list[Row]:
        """`GET /api/v1/analytics/timeseries`: one row per bucket (`start`, `end`, `value`, or the
        four status counts for `transactions`)."""
        params = _params(metric=metric, interval=interval, start=start, end=end, tz=tz)
        return _rows(self._exact(TIMESERIES_PATH, params), "points", TIMESERIES_PATH)

    def top_content_rows(
        self,
        *,
        by: str = "views",
        limit: int = 10,
        min_views: int = 0,
        start: str | None = None,
        end: str | None = None,
    ) -> list[Row]:
        """`GET /api/v1/analytics/content/top`: one row per content, best first."""
        params = _params(by=by, limit=str(limit), minViews=str(min_views), start=start, end=end)
        return _rows(self._exact(TOP_CONTENT_PATH, params), "items", TOP_CONTENT_PATH)

    def funnel_rows(
        self, *, content_id: str | None = None, start: str | None = None, end: str | None = None
    ) -> list[Row]:
        """`GET /api/v1/analytics/funnel`: one row per step (`step`, `count`, `rate`)."""
        params = _params(contentId=content_id, start=start, end=end)
        return _rows(self._exact(FUNNEL_PATH, params), "steps", FUNNEL_PATH)

    def user_day_rows(self, *, start: str | None = None, end: str | None = None, tz: str | None = None) -> list[Row]:
        """`GET /api/v1/analytics/users`, its `days`: active, new and returning users per local day."""
        return _rows(self._exact(USERS_PATH, _params(start=start, end=end, tz=tz)), "days", USERS_PATH)

    def timeseries_frame(self, metric: str, **query: Any) -> pandas.DataFrame:
        """`timeseries_rows` as a DataFrame; `start` and `end` as timezone-aware timestamps."""
        return rows_frame(self.timeseries_rows(metric, **query))

    def top_content_frame(self, **query: Any) -> pandas.DataFrame:
        return rows_frame(self.top_content_rows(**query))

    def funnel_frame(self, **query: Any) -> pandas.DataFrame:
        return rows_frame(self.funnel_rows(**query))

    def user_day_frame(self, **query: Any) -> pandas.DataFrame:
        return rows_frame(self.user_day_rows(**query))

    def _exact(self, path: str, params: Mapping[str, str]) -> Any:
        from metrics_client.rest import ApiError

        try:
            return self.get(path, params).json(parse_float=Decimal)
        except ValueError:
            raise ApiError(f"The sidecar sent an answer to {path} that is not JSON.") from None


def rows_frame(rows: list[Row]) -> pandas.DataFrame:
    """Rows as a DataFrame (Decimal columns stay Decimal: `.astype(float)` to plot them)."""
    try:
        import pandas
    except ImportError:
        raise ImportError("DataFrames need pandas: pip install './client[pandas]'") from None
    frame = pandas.DataFrame.from_records(rows)
    for column in _TIME_COLUMNS:
        if column in frame.columns:
            frame[column] = pandas.to_datetime(frame[column], utc=True)
    return frame


def _params(**given: str | None) -> dict[str, str]:
    """The query's parameters; `start`/`end` are the endpoints' `from`/`to`, None leaves one out."""
    names = {"start": "from", "end": "to"}
    return {names.get(name, name): value for name, value in given.items() if value is not None}


def _rows(answer: Any, key: str, path: str) -> list[Row]:
    from metrics_client.rest import ApiError

    rows = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ApiError(f"The sidecar sent a malformed answer to {path}: no list of rows in {key!r}.")
    return rows
