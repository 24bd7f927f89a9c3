"""`/openapi.json` describes every REST endpoint the sidecar serves."""

from __future__ import annotations

from starlette.routing import Route
from starlette.testclient import TestClient

from server.routes import routes


def test_every_rest_route_is_described(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    served = {(route.path, method.lower()) for route in routes if isinstance(route, Route) for method in route.methods}
    served = {(path, method) for path, method in served if method != "head" and path != "/openapi.json"}
    described = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert served == described


def test_the_snapshot_schema_names_exactly_the_fields_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Snapshot"]
    body = client.get("/api/v1/analytics/realtime-metrics").json()
    assert set(schema["required"]) == set(body)
    for section in ("revenue", "activeUsers", "transactions", "content"):
        assert set(schema["properties"][section]["required"]) == set(body[section])
