"""Small helpers shared by tests that drive the app through a TestClient."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from sqlalchemy import text
from starlette.testclient import TestClient

from server.service import MetricsService
from server.snapshot_loop import SnapshotLoop


def service_of(client: TestClient) -> MetricsService:
    return client.app_state["service"]


def loop_of(client: TestClient) -> SnapshotLoop:
    return client.app_state["snapshots"]


def refresh(client: TestClient) -> dict[str, Any]:
    """Compute a snapshot now (as the interval loop would) and return the REST body."""
    client.portal.call(loop_of(client).refresh)
    response = client.get("/api/v1/analytics/realtime-metrics")
    assert response.status_code == 200
    return response.json()


def sql(client: TestClient, statement: str, **params: Any) -> None:
    """Run one statement straight against the sidecar's database, as the platform would."""

    async def run() -> None:
        async with service_of(client).engine.begin() as conn:
            await conn.execute(text(statement), params)

    client.portal.call(run)


def db_time(client: TestClient, moment: Any) -> Any:
    """A timestamp parameter as the platform writes it: text on SQLite, timestamptz on PostgreSQL."""
    if service_of(client).engine.dialect.name == "sqlite":
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


class LocalClient(TestClient):
    """A TestClient that reaches the sidecar by a name it answers for while open (`localhost`, see
    TrustedHostMiddleware in `server.app`), over HTTP and WebSocket alike: TestClient's own
    sockets always say `Host: testserver`."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        kwargs.setdefault("base_url", "http://localhost")
        super().__init__(app, **kwargs)

    def websocket_connect(self, url: str, subprotocols: Any = None, **kwargs: Any) -> Any:
        return super().websocket_connect(urljoin("ws://localhost", url), subprotocols, **kwargs)
