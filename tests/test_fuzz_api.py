"""The REST API against its own `/openapi.json`: schemathesis generates requests from the
description, valid ones and invalid ones, and every answer must be what the description says.

For every generated request, on each stack:
- no 5xx, however malformed the input (the contract: "no input gets any other 5xx");
- the status code is one the description lists for that operation;
- the Content-Type is one the description lists for that status;
- a JSON body matches that status's response schema (the `Error` shape included).

Generation is bounded and deterministic: hypothesis derandomized, no example database, at most
`MAX_EXAMPLES` requests per operation and generation mode.

The requests go through Starlette's TestClient, so the app runs its lifespan (migrations, the
snapshot loop) exactly as in the other tests. (schemathesis' own `from_fixture` loader cannot be
used here: it sets `Node._nodeid`, which pytest 9.2 no longer has.)
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from server.app import create_app
from server.auth import digest, parse_tokens
from server.settings import Settings

MAX_EXAMPLES = 40
BASE_URL = "http://localhost"  # a name the sidecar answers for while open (TrustedHostMiddleware)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Open only to tooling: every other operation is behind a token's scope and the request rate.
PUBLIC = {("GET", "/health")}


def _httpx_request(case: schemathesis.Case, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The case as `TestClient.request` arguments (schemathesis serializes for `requests`)."""
    sent = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": sent["headers"],
        "params": sent["params"],
    }
    assert not sent.get("cookies"), "the description has no cookie parameters"
    if "json" in sent:
        request["json"] = sent["json"]
    elif "data" in sent:
        request["content"] = sent["data"]
    return request


def _has_inputs(operation: APIOperation) -> bool:
    return bool(operation.definition.raw.get("parameters") or operation.definition.raw.get("requestBody"))


def _operations(client: TestClient) -> list[APIOperation]:
    schema: BaseSchema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    described = {(op.method.upper(), op.path) for op in operations}
    assert {("GET", "/health"), ("POST", "/api/v1/events"), ("GET", "/api/v1/analytics/timeseries")} <= described
    return operations


def _fuzz(client: TestClient, operation: APIOperation, mode: GenerationMode) -> None:
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def answer_is_documented(case: schemathesis.Case) -> None:
        response = client.request(**_httpx_request(case))
        case.validate_response(response, checks=CHECKS)

    answer_is_documented()


def _seed(client: TestClient) -> None:
    """A few days of events, so that snapshots and history answers carry real numbers (cents,
    rates, non-empty rankings) for the response schemas to judge, not only zeros."""
    now = datetime.now(UTC).replace(microsecond=0)
    events: list[dict[str, Any]] = []
    for i, amount in enumerate(["0.07", "12.34", "19.99", "1234567.89", "0.10", "5"]):
        at = (now - timedelta(days=i, hours=i)).isoformat()
        user, content = f"u-{i}", f"c-{i % 3}"
        events.append({"type": "user_activity", "userId": user, "at": at, "eventId": f"a-{i}"})
        events.append({"type": "content_view", "contentId": content, "userId": user, "at": at, "eventId": f"v-{i}"})
        events.append(
            {
                "type": "transaction",
                "id": f"t-{i}",
                "userId": user,
                "contentId": content,
                "amount": amount,
                "status": "pending",
                "at": at,
            }
        )
        if i % 3 != 2:  # some stay pending
            events.append({"type": "transaction", "id": f"t-{i}", "status": ["completed", "failed"][i % 2], "at": at})
    assert client.post("/api/v1/events", json={"events": events}).json() == {"accepted": len(events), "duplicates": 0}
    deadline = time.monotonic() + 10
    while client.get("/api/v1/analytics/realtime-metrics").json()["transactions"]["total"] != 6:
        assert time.monotonic() < deadline, "the seeded events never showed in a snapshot"
        time.sleep(0.05)


def test_every_answer_is_documented_and_never_a_server_error(settings: Settings) -> None:
    # One client address sending as fast as it can is not traffic the per-address limit is
    # about; the 429 itself is pinned by the test below, deterministically.
    settings = replace(settings, requests_per_second=1_000_000)
    with TestClient(create_app(settings), base_url=BASE_URL, raise_server_exceptions=False) as client:
        _seed(client)
        for operation in _operations(client):
            _fuzz(client, operation, GenerationMode.POSITIVE)
            if _has_inputs(operation):  # without any, there is nothing to get wrong
                _fuzz(client, operation, GenerationMode.NEGATIVE)


# Inputs at the edges that random generation is unlikely to draw, each sent once and judged by
# the same checks: (method, path, query, JSON body or raw bytes).
EDGE_CASES = [
    pytest.param("POST", "/api/v1/events", {}, b"[" * 5000 + b"]" * 5000, id="deeply-nested-body"),
    pytest.param("POST", "/api/v1/events", {}, b'{"type": "user_activity", "userId": NaN}', id="nan-body"),
    pytest.param("POST", "/api/v1/events", {}, b"\xff\xfe\x00", id="not-utf8-body"),
    pytest.param(
        "POST",
        "/api/v1/events",
        {},
        {"type": "user_activity", "userId": "u-1", "at": "0001-01-01T00:00:00+14:00"},
        id="event-at-before-year-1-in-utc",
    ),
    pytest.param(
        "POST",
        "/api/v1/events",
        {},
        {"type": "user_activity", "userId": "u-1", "at": "0001-01-02T00:00:00Z"},
        id="event-in-year-1",
    ),
    pytest.param("GET", "/api/v1/analytics/funnel", {"contentId": "\x00"}, None, id="funnel-content-id-nul"),
    pytest.param(
        "GET", "/api/v1/analytics/funnel", {"from": "0001-01-01", "to": "0001-01-02"}, None, id="funnel-in-year-1"
    ),
    pytest.param(
        "GET",
        "/api/v1/analytics/timeseries",
        {"metric": "revenue", "from": "0001-01-01", "to": "0001-01-02"},
        None,
        id="timeseries-in-year-1",
    ),
    pytest.param(
        "GET",
        "/api/v1/analytics/timeseries",
        {"metric": "revenue", "interval": "month", "from": "0001-01-01T00:00:00+14:00", "to": "0001-03-01"},
        None,
        id="timeseries-from-before-year-1-in-utc",
    ),
    pytest.param(
        "GET",
        "/api/v1/analytics/timeseries",
        {"metric": "transactions", "interval": "hour", "from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:00:00Z"},
        None,
        id="timeseries-in-year-9999",
    ),
    pytest.param(
        "GET",
        "/api/v1/analytics/users",
        {"from": "0001-01-01", "to": "0001-01-03", "tz": "Asia/Tokyo"},
        None,
        id="users-from-before-year-1-in-utc",
    ),
    pytest.param(
        "GET", "/api/v1/analytics/content/top", {"from": "0001-01-01", "to": "0001-01-02"}, None, id="top-in-year-1"
    ),
]


@pytest.mark.parametrize(("method", "path", "query", "body"), EDGE_CASES)
def test_edge_case_inputs_are_answered_as_documented(
    settings: Settings, method: str, path: str, query: dict[str, str], body: Any
) -> None:
    with TestClient(create_app(settings), base_url=BASE_URL, raise_server_exceptions=False) as client:
        operation = {(op.method.upper(), op.path): op for op in _operations(client)}[(method, path)]
        sent = {"content": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
        headers = {"Content-Type": "application/json"} if body is not None else {}
        response = client.request(method, path, params=query, headers=headers, **sent)
        operation.Case(query=query).validate_response(response, checks=CHECKS)


READ_ONLY = "mt_fuzz_read_only"


@pytest.mark.parametrize(
    ("refusal", "status"),
    [("rate_limited", 429), ("unauthorized", 401), ("forbidden", 403)],
)
def test_the_refusals_the_readme_documents_are_described(settings: Settings, refusal: str, status: int) -> None:
    """README "Deploying safely": every guarded REST operation may answer 429 (over the rate),
    401 (no token) and 403 (a token without the scope); the description must list them too."""
    headers: dict[str, str] = {}
    if refusal == "rate_limited":
        settings = replace(settings, requests_per_second=0.001)  # a burst of one, then 429 for ~1000 s
    else:
        settings = replace(settings, tokens=parse_tokens(f"viewer:read:{digest(READ_ONLY)}", None))
        if refusal == "forbidden":
            headers = {"Authorization": f"Bearer {READ_ONLY}"}
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        operations = [op for op in _operations(client) if (op.method.upper(), op.path) not in PUBLIC]
        if refusal == "rate_limited":
            client.get("/api/v1/analytics/realtime-metrics")  # spends the burst
        if refusal == "forbidden":  # `read` opens everything but ingestion and /metrics
            operations = [op for op in operations if op.path in ("/api/v1/events", "/metrics")]
        assert operations
        for operation in operations:
            case = operation.Case()
            response = client.request(**_httpx_request(case, headers))
            assert response.status_code == status, (operation.label, response.text)
            assert response.json()["error"]["code"] == refusal
            case.validate_response(response, checks=CHECKS)
