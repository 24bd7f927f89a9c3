"""The REST API against its own `/openapi.json`: schemathesis, with every check it has, in positive
and negative modes, through its examples, coverage and fuzzing phases, on each stack.

What "every check" holds the sidecar to:
- the schema equals the validation: a request the description calls valid is accepted (2xx), or
  refused only for what no schema can know (`POSITIVE_STATUSES`: a conflict with stored rows 409,
  a body over the size limit 413, the rate 429); one it calls invalid is refused (4xx), including a
  parameter given twice. A 422 or any 5xx for a valid request fails;
- no 5xx, whatever the input; every status, Content-Type and JSON body as described; an undeclared
  method gets 405 with `Allow`.

Relations between values are the one thing JSON Schema cannot state: `to` after `from`, the bucket
limits, an event's `at` not ahead of the server's clock. The server refuses them with 422, and the
operations' descriptions say so. For a valid request refused for exactly such a relation (and
nothing else), `positive_data_acceptance` is replaced by that exact expectation (`RELATIONS`);
every other check still runs on it.

Checks with nothing to judge here, run anyway: `use_after_free`, `ensure_resource_availability`
and `object_level_authorization` follow resources created and deleted through links (this API has
no path parameters, links or DELETE); `ignored_auth` and `missing_required_header` concern declared
credentials and required headers (a sidecar on loopback asks for no token; the auth tests and
`test_the_refusals_the_readme_documents_are_described` below pin 401/403/429). `max_response_time`
is off: timing belongs in bench/.

Generation is bounded and deterministic (no example database). The schema is the document
`server.openapi` builds for these settings, checked equal to what `/openapi.json` serves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.datastructures import QueryParams
from starlette.testclient import TestClient

from server.analytics.params import UsersQuery
from server.app import create_app
from server.auth import digest, parse_tokens
from server.errors import ValidationFailed
from server.openapi import openapi_document
from server.query import parse_query
from server.settings import Settings

BASE_URL = "http://localhost"  # a name the sidecar answers for while open (TrustedHostMiddleware)
MAX_EXAMPLES = 20
POSITIVE_STATUSES = ["2xx", "409", "413", "429"]
# How this API refuses what its description calls invalid: bad JSON, a method it does not serve,
# a batch or body over the limits, a validation error. (schemathesis' default list also allows
# 401/403/404/406/409/415/428/429 and 5xx; none of them may answer an invalid request here.)
NEGATIVE_STATUSES = ["400", "405", "413", "415", "422"]
EVERY_CHECK = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
    "ignored_auth",
    "object_level_authorization",
    "unsupported_method",
    "allow_header_conformance",
]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            **{name: {"enabled": True} for name in EVERY_CHECK},
            "positive_data_acceptance": {"enabled": True, "expected-statuses": POSITIVE_STATUSES},
            "negative_data_rejection": {"enabled": True, "expected-statuses": NEGATIVE_STATUSES},
        },
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True, "generate-duplicate-query-parameters": True},
            "fuzzing": {"enabled": True},
            # Stateful testing follows links between operations; this API declares none.
            "stateful": {"enabled": False},
        },
    }
)
DOCUMENT = openapi_document(currency=Settings.currency, max_events=Settings.max_batch_events)
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)

# The refusals of a valid request that only a relation between values explains: (field, message
# prefix), as the server words them. Anything else refused with 422 is the schema saying too little.
RELATIONS = {
    ("to", "must be after from"),
    ("until", "must be after from"),
    ("interval", "the range holds more than 1000 buckets"),
    ("from", "the range is longer than a year; choose a shorter one"),
    ("at", "is more than 5 minutes in the future"),
}


def test_every_check_schemathesis_has_is_run_but_the_timing_one() -> None:
    load_all_checks()
    assert set(CHECKS.get_all_names()) - {"max_response_time"} == set(EVERY_CHECK)


def _request(case: schemathesis.Case, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The case as `TestClient.request` arguments (schemathesis serializes for `requests`)."""
    sent = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": sent["headers"],
        "params": sent.get("params"),
    }
    assert not sent.get("cookies"), "the description has no cookie parameters"
    if "json" in sent:
        request["json"] = sent["json"]
    elif "data" in sent:
        request["content"] = sent["data"]
    return request


def _refused_for_a_relation_only(case: schemathesis.Case, response: Any) -> bool:
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return False
    details = response.json()["error"].get("details") or [{}]
    return all(
        any(d.get("field") == field and str(d.get("message", "")).startswith(text) for field, text in RELATIONS)
        for d in details
    )


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


@pytest.fixture(scope="module")
def api(module_settings: Settings) -> Iterator[TestClient]:
    """One sidecar per stack for the whole module, seeded, serving the document fuzzed here."""
    # One client address sending as fast as it can is not traffic the per-address limit is
    # about; the 429 itself is pinned by the test below, deterministically.
    settings = replace(module_settings, requests_per_second=1_000_000)
    with TestClient(create_app(settings), base_url=BASE_URL, raise_server_exceptions=False) as client:
        assert client.get("/openapi.json").json() == DOCUMENT
        _seed(client)
        yield client


# The coverage phase sends every value of an enum, and `tz` offers ~600 zones on four operations:
# over HTTP, a sample of them (the ends of the list, the extreme and odd offsets, an alias). That the
# server takes each zone the description offers, and no other, is pinned for all of them, without
# HTTP, by test_every_zone_the_description_offers_is_accepted_and_only_those.
ZONE_SAMPLE = {
    DOCUMENT["components"]["schemas"]["TimeZone"]["enum"][0],
    DOCUMENT["components"]["schemas"]["TimeZone"]["enum"][-1],
    "Europe/Berlin",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "US/Eastern",
}


def _scenario(case: schemathesis.Case) -> tuple[CoverageScenario | None, str | None]:
    data = case.meta.phase.data if case.meta is not None else None
    if isinstance(data, CoveragePhaseData):
        return data.scenario, data.parameter
    return None, None


def _a_zone_outside_the_sample(case: schemathesis.Case) -> bool:
    scenario, parameter = _scenario(case)
    return (
        scenario == CoverageScenario.ENUM_VALUE
        and parameter == "tz"
        and (case.query or {}).get("tz") not in ZONE_SAMPLE
    )


def test_every_zone_the_description_offers_is_accepted_and_only_those() -> None:
    offered = DOCUMENT["components"]["schemas"]["TimeZone"]["enum"]
    assert set(ZONE_SAMPLE) <= set(offered)
    for zone in offered:
        assert parse_query(UsersQuery, QueryParams({"tz": zone})).tz == zone
    for name in ("posix/Europe/Berlin", "right/UTC", "posixrules", "localtime", "europe/berlin", "UTC ", ""):
        with pytest.raises(ValidationFailed) as refused:
            parse_query(UsersQuery, QueryParams({"tz": name}))
        assert refused.value.details == [
            {"field": "tz", "message": f"{name!r} is not an IANA time zone (for example Europe/Berlin)"}
        ]


@SCHEMA.parametrize()
def test_the_api_is_what_its_description_says(case: schemathesis.Case, api: TestClient) -> None:
    if _a_zone_outside_the_sample(case):
        return
    response = api.request(**_request(case))
    if _refused_for_a_relation_only(case, response):
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
    else:
        case.validate_response(response)
    scenario, parameter = _scenario(case)
    if scenario == CoverageScenario.DUPLICATE_PARAMETER:
        # schemathesis lets `?x=1&x=1` pass (many servers read one of two equal values); this API
        # refuses a parameter given twice, equal or not, and names it.
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"] == [{"field": parameter, "message": "given more than once"}]


# Inputs at the edges that random generation is unlikely to draw, each sent once and judged by
# every check: (method, path, query, JSON body or raw bytes).
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
        {"type": "user_activity", "userId": "u-1", "at": "9999-12-31T23:00:00-05:00"},
        id="event-at-after-year-9999-in-utc",
    ),
    pytest.param("GET", "/api/v1/analytics/funnel", {"contentId": "\x00"}, None, id="funnel-content-id-nul"),
    pytest.param(
        "GET",
        "/api/v1/analytics/timeseries",
        {"metric": "revenue", "interval": "month", "from": "0001-01-01T00:00:00+14:00", "to": "0001-03-01"},
        None,
        id="timeseries-from-before-year-1-in-utc",
    ),
    pytest.param("GET", "/api/v1/alerts", {"limit": "²"}, None, id="alerts-limit-superscript-two"),
]


@pytest.mark.parametrize(("method", "path", "query", "body"), EDGE_CASES)
def test_edge_case_inputs_are_answered_as_documented(
    api: TestClient, method: str, path: str, query: dict[str, str], body: Any
) -> None:
    operation = SCHEMA[path][method]
    sent = {"content": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
    headers = {"Content-Type": "application/json"} if body is not None else {}
    response = api.request(method, path, params=query, headers=headers, **sent)
    assert response.status_code in (400, 422), response.text
    operation.Case(query=query).validate_response(response)


# The ends of the calendar the description admits (server.fields): whole buckets around them, in
# the zones furthest from UTC, still lie inside it, so each is answered.
CALENDAR_EDGES = [
    {"metric": "revenue", "interval": "month", "from": "0003-01-01", "to": "0003-03-01", "tz": "Pacific/Kiritimati"},
    {"metric": "revenue", "interval": "week", "to": "0003-01-01T00:00:00Z", "tz": "Pacific/Kiritimati"},
    {"metric": "transactions", "interval": "month", "to": "0003-01-01", "tz": "Etc/GMT-14"},
    {"metric": "revenue", "interval": "month", "from": "9998-10-01", "to": "9998-12-31T23:59:59-12:00"},
    {"metric": "views", "interval": "week", "from": "9998-12-01", "to": "9998-12-31", "tz": "Etc/GMT+12"},
]


@pytest.mark.parametrize("query", CALENDAR_EDGES)
def test_the_calendar_edges_the_description_admits_are_answered(api: TestClient, query: dict[str, str]) -> None:
    response = api.get("/api/v1/analytics/timeseries", params=query)
    assert response.status_code == 200, response.text
    SCHEMA["/api/v1/analytics/timeseries"]["GET"].Case(query=query).validate_response(response)
    for path in (
        "/api/v1/analytics/content/top",
        "/api/v1/analytics/content/categories",
        "/api/v1/analytics/funnel",
        "/api/v1/analytics/users",
    ):
        ranged = {k: v for k, v in query.items() if k in ("from", "to", "tz")}
        if path.endswith("users") and "from" not in ranged:
            continue  # its default span is a month before `to`: covered by the others
        answer = api.get(path, params=ranged)
        assert answer.status_code in (200, 422), answer.text
        if answer.status_code == 422:  # only the year limit of /users
            assert answer.json()["error"]["details"] == [
                {"field": "from", "message": "the range is longer than a year; choose a shorter one"}
            ]
        SCHEMA[path]["GET"].Case(query=ranged).validate_response(answer)


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
        operations = [
            result.ok() for result in SCHEMA.get_all_operations() if result.ok().path != "/health"
        ]  # /health is open to load balancers, and not rate limited
        if refusal == "rate_limited":
            client.get("/api/v1/analytics/realtime-metrics")  # spends the burst
        if refusal == "forbidden":  # `read` opens everything but ingestion and /metrics
            operations = [op for op in operations if op.path in ("/api/v1/events", "/metrics")]
        assert operations
        for operation in operations:
            case = operation.Case()
            response = client.request(**_request(case, headers))
            assert response.status_code == status, (operation.label, response.text)
            assert response.json()["error"]["code"] == refusal
            case.validate_response(response)


def test_generation_covers_both_modes() -> None:
    assert CONFIG.projects.default.generation.modes == [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
