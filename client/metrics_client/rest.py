"""The sidecar's REST endpoints over plain httpx: parsed JSON back, every failure an `ApiError`.

    api = ApiClient("http://localhost:3000", token=...)
    print(api.realtime_metrics()["revenue"]["today"])
    api.timeseries_rows("revenue", interval="hour")  # history as rows; `timeseries_frame` for pandas

An `ApiError`'s text is fit to show a person as it is: the contract's error message with each
listed problem, or what went wrong on the way (timeout, unreachable, not JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from metrics_client.history import HistoryQueries
from metrics_client.protocol import REALTIME_PATH, parse_error_body


class ApiError(Exception):
    """The sidecar refused a request, failed, or could not be reached; the text is for the user."""

    def __init__(
        self, message: str, *, status: int | None = None, details: list[Any] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status  # the HTTP status, or None when no answer came
        self.code = code  # the error body's `code`, when the sidecar sent one
        self.details = details or []


@dataclass(frozen=True)
class ApiClient(HistoryQueries):
    api_url: str
    timeout: float = 10.0
    # Tests hand in an `httpx.MockTransport`; None is the network, one short-lived connection per
    # request (callers that ask often cache the answers, as the dashboard does).
    transport: httpx.BaseTransport | None = field(default=None, compare=False, repr=False)
    token: str | None = field(default=None, repr=False)  # an API token with the `read` scope, if needed

    def realtime_metrics(self) -> dict[str, Any]:
        """The current snapshot, as `GET /api/v1/analytics/realtime-metrics` answers it."""
        answer = self.get_json(REALTIME_PATH, {})
        if not isinstance(answer, dict):
            raise ApiError(f"The sidecar sent a malformed answer to {REALTIME_PATH}: not a JSON object.")
        return answer

    def get_json(self, path: str, params: Mapping[str, str]) -> Any:
        """`GET path?params`, its body parsed as JSON."""
        response = self.get(path, params)
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"The sidecar sent an answer to {path} that is not JSON.") from None

    def csv(self, path: str, params: Mapping[str, str]) -> bytes:
        """The same query as CSV (`format=csv`), as the bytes of a download."""
        return self.get(path, {**params, "format": "csv"}).content

    def get(self, path: str, params: Mapping[str, str]) -> httpx.Response:
        """`GET path?params`; a successful answer, else `ApiError`."""
        url = self.api_url.rstrip("/") + path
        try:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
            with httpx.Client(timeout=self.timeout, transport=self.transport, headers=headers) as client:
                response = client.get(url, params=dict(params))
        except httpx.TimeoutException:
            raise ApiError(f"The sidecar at {self.api_url} did not answer within {self.timeout:g} s.") from None
        except httpx.TransportError as exc:
            raise ApiError(f"The sidecar at {self.api_url} cannot be reached ({exc}).") from None
        if response.is_error:
            raise error_of(response)
        return response


def error_of(response: httpx.Response) -> ApiError:
    """The contract's `{"error": {...}}` as an exception; any other failing answer by its status."""
    try:
        parsed = parse_error_body(response.json())
    except ValueError:
        parsed = None
    if parsed is None:
        reason = response.reason_phrase or "error"
        return ApiError(f"The sidecar answered {response.status_code} {reason}.", status=response.status_code)
    code, message, details = parsed
    # "2 invalid parameters" alone does not say which: name each problem the sidecar listed.
    problems = [
        f"{d['field']} {d['message']}" if d.get("field") else str(d["message"])
        for d in details
        if isinstance(d, dict) and d.get("message") and d.get("message") != message
    ]
    text = f"{message}: {'; '.join(problems)}" if problems else message
    return ApiError(text, status=response.status_code, details=details, code=code or None)
