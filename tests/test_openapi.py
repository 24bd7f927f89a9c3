"""`/openapi.json` describes every REST endpoint the sidecar serves."""

from __future__ import annotations

from dataclasses import replace

import jsonschema_rs
from pydantic import TypeAdapter
from starlette.routing import Route
from starlette.testclient import TestClient

from server.app import create_app
from server.events import ContentEvent, ContentViewEvent, Event, TransactionEvent, UserActivityEvent
from server.fields import TIME_ZONES
from server.routes import routes
from server.settings import Settings
from server.sse import STREAM_PATH
from tests.support.helpers import LocalClient


def test_every_rest_route_is_described(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    served = {(route.path, method.lower()) for route in routes if isinstance(route, Route) for method in route.methods}
    # The event stream is a stream like /ws/metrics, described beside it in the README, not here.
    served = {
        (path, method) for path, method in served if method != "head" and path not in ("/openapi.json", STREAM_PATH)
    }
    described = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert served == described


def test_the_snapshot_schema_names_exactly_the_fields_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Snapshot"]
    body = client.get("/api/v1/analytics/realtime-metrics").json()
    assert set(schema["required"]) == set(body)
    for section in ("revenue", "activeUsers", "transactions", "content"):
        assert set(schema["properties"][section]["required"]) == set(body[section])
    pace = schema["properties"]["pace"]
    assert set(pace["required"]) == set(body["pace"]) == {"revenue", "activeUsers"}
    for section in ("revenue", "activeUsers"):
        assert set(pace["properties"][section]["required"]) == set(body["pace"][section]) == {"yesterday", "lastWeek"}


def test_the_request_shapes_come_from_the_models_that_validate_them(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    generated = TypeAdapter(Event).json_schema(ref_template="#/components/schemas/{model}")
    shapes = generated.pop("$defs")
    assert schemas["Event"] == generated
    assert set(shapes) == {"UserActivityEvent", "ContentViewEvent", "TransactionEvent", "ContentEvent"}
    assert schemas["Event"]["discriminator"]["propertyName"] == "type"
    for name, model in (
        ("UserActivityEvent", UserActivityEvent),
        ("ContentViewEvent", ContentViewEvent),
        ("TransactionEvent", TransactionEvent),
        ("ContentEvent", ContentEvent),
    ):
        assert set(schemas[name]["properties"]) == set(model.model_fields)
        assert set(schemas[name]["required"]) == {n for n, f in model.model_fields.items() if f.is_required()}
    assert set(schemas["TransactionEvent"]["required"]) == {"type", "id", "status"}
    assert set(schemas["ContentEvent"]["required"]) == {"type", "contentId"}
    assert schemas["TimeZone"]["enum"] == sorted(TIME_ZONES)
    parameters = document["paths"]["/api/v1/analytics/timeseries"]["get"]["parameters"]
    assert [(p["name"], p["required"]) for p in parameters] == [
        ("metric", True),
        ("interval", False),
        ("from", False),
        ("to", False),
        ("tz", False),
        ("until", False),
        ("format", False),
    ]
    assert {p["name"]: p["schema"] for p in parameters}["tz"] == {
        "$ref": "#/components/schemas/TimeZone",
        "examples": ["Europe/Berlin"],
    }


def test_the_settings_in_the_body_schema_are_the_deployment_s(settings: Settings) -> None:
    with LocalClient(create_app(replace(settings, currency="EUR", max_batch_events=10))) as client:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["Currency"]["const"] == "EUR"
    assert schemas["EventBatch"]["properties"]["events"]["maxItems"] == 10


def test_a_degraded_health_with_its_reason_matches_the_health_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Health"]
    degraded = {"status": "degraded", "database": "ok", "cache": "ok", "reason": "the numbers served are stale"}
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid(degraded)
    assert validator.is_valid(client.get("/health").json())
    assert not validator.is_valid({**degraded, "reasons": []})
