"""`metrics_client.rest.ApiClient` against an `httpx.MockTransport`: JSON back, every failure an
`ApiError` with the contract's message, code and status."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from metrics_client import ApiClient, ApiError
from metrics_client.protocol import REALTIME_PATH, ErrorCode, error_body

URL = "http://sidecar.test:3000/"


def client_of(handler: Callable[[httpx.Request], httpx.Response], token: str | None = None) -> ApiClient:
    return ApiClient(URL, timeout=2.0, transport=httpx.MockTransport(handler), token=token)


def test_the_realtime_snapshot_comes_back_parsed_with_the_token_presented() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"snapshotId": 7, "revenue": {"total": 12.5}})

    assert client_of(answer, token="mt_read").realtime_metrics() == {"snapshotId": 7, "revenue": {"total": 12.5}}
    assert str(seen[0].url) == "http://sidecar.test:3000" + REALTIME_PATH
    assert seen[0].headers["authorization"] == "Bearer mt_read"


def test_an_error_body_becomes_an_api_error_naming_each_problem() -> None:
    details = [{"index": 0, "field": "from", "message": "is not an ISO 8601 time"}]
    body = error_body(ErrorCode.VALIDATION_ERROR, "1 invalid parameter", details)
    client = client_of(lambda request: httpx.Response(422, json=body))
    with pytest.raises(ApiError) as caught:
        client.get_json("/api/v1/analytics/timeseries", {"from": "yesterday"})
    error = caught.value
    assert (error.status, error.code, error.details) == (422, "validation_error", details)
    assert error.message == "1 invalid parameter: from is not an ISO 8601 time"


def test_an_answer_without_the_error_shape_is_named_by_its_status() -> None:
    client = client_of(lambda request: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ApiError) as caught:
        client.realtime_metrics()
    assert (caught.value.message, caught.value.status, caught.value.code) == (
        "The sidecar answered 502 Bad Gateway.",
        502,
        None,
    )


def test_a_success_that_is_not_json_or_not_an_object_is_refused() -> None:
    with pytest.raises(ApiError, match="that is not JSON"):
        client_of(lambda request: httpx.Response(200, text="ok")).realtime_metrics()
    with pytest.raises(ApiError, match="malformed answer to /api/v1/analytics/realtime-metrics: not a JSON object"):
        client_of(lambda request: httpx.Response(200, json=[1, 2])).realtime_metrics()


def test_an_unreachable_sidecar_is_said_in_words() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(ApiError) as caught:
        client_of(refuse).realtime_metrics()
    assert caught.value.message == f"The sidecar at {URL} cannot be reached (connection refused)."
    assert caught.value.status is None
