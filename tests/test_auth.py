"""API tokens with scopes: configuration, REST and WebSocket enforcement, logs, secure default."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect as ws_connect

from dashboard.api import AnalyticsClient
from server.app import create_app
from server.auth import authenticate, digest, parse_tokens
from server.errors import ConfigurationError
from server.logs import RedactTokens
from server.settings import Settings
from tests.support.faults import free_port
from tests.support.helpers import LocalClient
from tests.support.live import wait_until

ROOT = Path(__file__).parents[1]
READ, INGEST, ADMIN = "mt_read_token", "mt_ingest_token", "mt_admin_token"
TOKENS = parse_tokens(f"viewer:read:{digest(READ)},writer:ingest:{digest(INGEST)},ops:admin:{digest(ADMIN)}", None)


@pytest.fixture
def secured(settings: Settings) -> Iterator[TestClient]:
    with LocalClient(create_app(replace(settings, tokens=TOKENS))) as client:
        yield client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_read_from_the_environment_and_a_file(tmp_path: Path) -> None:
    file = tmp_path / "tokens.toml"
    file.write_text(f'[[token]]\nname = "ci"\nscopes = ["ingest", "read"]\nsha256 = "{digest("x")}"\n')
    settings = Settings.from_env(
        {"METRICS_TOKENS": f"dash:read:{digest('y')}", "METRICS_TOKENS_FILE": str(file)}, env_file=None
    )
    assert [(t.name, sorted(t.scopes)) for t in settings.tokens] == [("dash", ["read"]), ("ci", ["ingest", "read"])]
    assert authenticate(settings.tokens, "x").name == "ci"  # type: ignore[union-attr]
    assert authenticate(settings.tokens, "y").name == "dash"  # type: ignore[union-attr]
    assert authenticate(settings.tokens, "z") is None


@pytest.mark.parametrize(
    ("inline", "message"),
    [
        ("dash:read:not-a-hash", "SHA-256 of the token"),
        (f"dash:root:{digest('x')}", "scopes from read, ingest, metrics, admin"),
        (f"dash:read:{digest('x')},dash:ingest:{digest('y')}", "unique"),
        ("just-a-token", "name:scope+scope:sha256"),
    ],
)
def test_bad_token_configuration_is_refused(inline: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        parse_tokens(inline, None)


def test_listening_beyond_loopback_needs_tokens() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("refusing to listen on 0.0.0.0 without API tokens")):
        Settings.from_env({"HOST": "0.0.0.0"}, env_file=None)
    assert Settings.from_env({"HOST": "0.0.0.0", "METRICS_TOKENS": f"a:read:{digest('t')}"}, env_file=None).tokens
    assert Settings.from_env({"HOST": "::1"}, env_file=None).host == "::1"
    assert Settings.from_env({"HOST": "localhost"}, env_file=None).host == "localhost"


def test_rest_without_a_token_is_401_with_the_error_shape(secured: TestClient) -> None:
    response = secured.get("/api/v1/analytics/realtime-metrics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert response.json() == {
        "error": {"code": "unauthorized", "message": "an API token is required: Authorization: Bearer <token>"}
    }
    assert secured.get("/api/v1/analytics/realtime-metrics", headers=_auth("mt_wrong")).status_code == 401


@pytest.mark.parametrize(
    ("token", "method", "path", "status"),
    [
        (READ, "GET", "/api/v1/analytics/realtime-metrics", 200),
        (READ, "GET", "/api/v1/analytics/timeseries?metric=views", 200),
        (READ, "POST", "/api/v1/events", 403),
        (READ, "GET", "/metrics", 403),
        (INGEST, "POST", "/api/v1/events", 200),
        (INGEST, "GET", "/api/v1/analytics/realtime-metrics", 403),
        (ADMIN, "POST", "/api/v1/events", 200),
        (ADMIN, "GET", "/metrics", 200),
        (ADMIN, "GET", "/api/v1/analytics/content/top", 200),
    ],
)
def test_each_scope_opens_its_endpoints(secured: TestClient, token: str, method: str, path: str, status: int) -> None:
    body = {"type": "user_activity", "userId": "u"} if method == "POST" else None
    response = secured.request(method, path, json=body, headers=_auth(token))
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden"


def test_health_and_the_schema_stay_open(secured: TestClient) -> None:
    assert secured.get("/health").status_code == 200
    assert secured.get("/openapi.json").status_code == 200


def test_a_socket_with_a_token_in_the_header_or_query_is_served(secured: TestClient) -> None:
    with secured.websocket_connect("/ws/metrics", headers=_auth(READ)) as ws:
        assert ws.receive_json()["type"] == "metrics"
    with secured.websocket_connect(f"/ws/metrics?token={ADMIN}") as ws:
        assert ws.receive_json()["type"] == "metrics"


@pytest.mark.parametrize(("token", "status"), [("mt_wrong", 401), (INGEST, 403)])
def test_a_socket_with_wrong_credentials_is_refused_before_accept(secured: TestClient, token: str, status: int) -> None:
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        secured.websocket_connect("/ws/metrics", headers=_auth(token)),
    ):
        pass
    assert refused.value.status_code == status


def test_a_socket_may_authenticate_with_its_first_message(secured: TestClient) -> None:
    with secured.websocket_connect("/ws/metrics") as ws:
        ws.send_text(json.dumps({"type": "auth", "token": READ}))
        assert ws.receive_json() == {"type": "auth", "ok": True}
        assert ws.receive_json()["type"] == "metrics"


@pytest.mark.parametrize(("first", "code"), [({"type": "ping"}, 4401), ({"type": "auth", "token": INGEST}, 4403)])
def test_a_socket_whose_first_message_is_no_valid_auth_is_closed(
    secured: TestClient, first: dict[str, str], code: int
) -> None:
    with secured.websocket_connect("/ws/metrics") as ws:
        ws.send_text(json.dumps(first))
        assert ws.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == code


def test_tokens_in_query_strings_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    """At the handler, for a child logger's records too, with `%` arguments, however the key is written."""
    caplog.handler.addFilter(RedactTokens())
    logger = logging.getLogger("test.redaction.child")
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/ws/metrics?token={ADMIN}&x=1")
        logger.info("GET /ws/metrics?x=1&%%74oken=%s HTTP/1.1 (%d%%)", READ, 100)
        logger.info("/ws/metrics?TOKEN=%s", INGEST)
        logger.info("a tokenizer=%s is not a token", "kept")
        logger.info("GET /ws/metrics?token%%3D%s&x=1", ADMIN)  # the `=` encoded: a token sent by mistake
        logger.info("GET /ws/metrics?access_token%%253D%s", READ)  # encoded twice
        logger.info("GET /ws/metrics?%s", "tokens%3Dkept&a=b")
    assert ADMIN not in caplog.text and READ not in caplog.text and INGEST not in caplog.text
    assert [r.getMessage() for r in caplog.records] == [
        '127.0.0.1:5000 - "WebSocket /ws/metrics?token=***&x=1" [accepted]',
        "GET /ws/metrics?x=1&%74oken=*** HTTP/1.1 (100%)",
        "/ws/metrics?TOKEN=***",
        "a tokenizer=kept is not a token",
        "GET /ws/metrics?***&x=1",
        "GET /ws/metrics?***",
        "GET /ws/metrics?tokens%3Dkept&a=b",
    ]


def test_uvicorns_own_log_lines_mask_a_token_under_an_encoded_key(tmp_path: Path) -> None:
    """`python -m server` as deployed: the handshake with `?%74oken=` (which the server reads as
    `token`) is logged by uvicorn with the value masked."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
        "PORT": str(port),
        "METRICS_TOKENS": f"reader:read:{digest(READ)}",
        "REDIS_URL": "",
    }
    log_path = tmp_path / "sidecar.log"
    with log_path.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env, stderr=sink)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health"), 30, "the sidecar is up")
        with ws_connect(f"ws://127.0.0.1:{port}/ws/metrics?%74oken={READ}") as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "metrics"
        wait_until(lambda: "%74oken=***" in log_path.read_text(), 5, "uvicorn logs the handshake")
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert READ not in log_path.read_text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_dashboard_sends_its_own_token() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"items": []})

    client = AnalyticsClient("http://sidecar.test", transport=httpx.MockTransport(answer), token=READ)
    client.get_json("/api/v1/analytics/content/top", {})
    assert seen == [f"Bearer {READ}"]


def test_cors_admits_exactly_the_allowed_origins(secured: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    allowed = secured.options(
        "/api/v1/analytics/realtime-metrics", headers={"Origin": "http://localhost:8501", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:8501"
    foreign = secured.options(
        "/api/v1/analytics/realtime-metrics", headers={"Origin": "https://evil.example", **preflight}
    )
    assert foreign.status_code == 400 and "access-control-allow-origin" not in foreign.headers
    simple = secured.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers
