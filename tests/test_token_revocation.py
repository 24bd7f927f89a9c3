"""Tokens that can be taken back, scrapers that cannot ingest, failed authentications counted and
said, and sockets that never authenticate kept apart from those that do."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from server import token_registry
from server.access import FAILURES_PER_MINUTE, AuthFailures
from server.app import create_app
from server.auth import digest, parse_tokens
from server.settings import Settings
from server.token_registry import TokenRegistry
from tests.support.helpers import LocalClient
from tests.support.live import serve, wait_until

KEEP, DROP, SCRAPER, WRITER = "mt_keep", "mt_drop", "mt_scraper", "mt_writer"


def _file(path: Path, **tokens: tuple[str, str]) -> Path:
    entries = [
        f'[[token]]\nname = "{name}"\nscopes = ["{scope}"]\nsha256 = "{digest(secret)}"\n'
        for name, (secret, scope) in tokens.items()
    ]
    path.write_text("\n".join(entries))
    return path


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    return _file(tmp_path / "tokens.toml", keeper=(KEEP, "read"), dropped=(DROP, "read"))


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_registry, "CHECK_EVERY", 0.2)


def _secured(settings: Settings, tokens_file: Path) -> Settings:
    return replace(settings, tokens=parse_tokens(None, str(tokens_file)), tokens_file=str(tokens_file))


def test_a_token_taken_out_of_the_file_is_refused_and_its_sockets_closed_without_a_restart(
    settings: Settings, tokens_file: Path, quick_checks: None
) -> None:
    with serve(_secured(settings, tokens_file)) as address:
        base = f"http://{address}"
        bearer = lambda token: {"Authorization": f"Bearer {token}"}  # noqa: E731
        assert httpx.get(f"{base}/api/v1/analytics/realtime-metrics", headers=bearer(DROP)).status_code == 200
        with (
            connect(f"ws://{address}/ws/metrics", additional_headers=bearer(DROP)) as dropped,
            connect(f"ws://{address}/ws/metrics", additional_headers=bearer(KEEP)) as kept,
        ):
            assert json.loads(dropped.recv(timeout=5))["type"] == "metrics"
            _file(tokens_file, keeper=(KEEP, "read"))  # `dropped` taken away
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    dropped.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
            assert json.loads(kept.recv(timeout=5))["type"] == "metrics"  # the other token's socket goes on
        refused = httpx.get(f"{base}/api/v1/analytics/realtime-metrics", headers=bearer(DROP))
        assert refused.status_code == 401
        assert httpx.get(f"{base}/api/v1/analytics/realtime-metrics", headers=bearer(KEEP)).status_code == 200
        _file(tokens_file, keeper=(KEEP, "read"), dropped=(DROP, "read"))  # and given back
        wait_until(
            lambda: httpx.get(f"{base}/api/v1/analytics/realtime-metrics", headers=bearer(DROP)).status_code == 200,
            5,
            "the token works again",
        )


def test_a_token_taken_out_of_the_file_ends_its_event_streams(
    settings: Settings, tokens_file: Path, quick_checks: None
) -> None:
    with serve(_secured(settings, tokens_file)) as address:
        url = f"http://{address}/api/v1/stream"
        with (
            httpx.stream("GET", url, params={"token": DROP}, timeout=10) as dropped,
            httpx.stream("GET", url, headers={"Authorization": f"Bearer {KEEP}"}, timeout=10) as kept,
        ):
            dropped_lines, kept_lines = dropped.iter_lines(), kept.iter_lines()
            assert next(dropped_lines) == "retry: 1000"
            _file(tokens_file, keeper=(KEEP, "read"))  # `dropped` taken away
            for _ in dropped_lines:  # ends: the loop finishes instead of waiting for the read timeout
                pass
            assert [line for line in (next(kept_lines) for _ in range(8)) if line.startswith("event: metrics")]


def test_a_broken_tokens_file_keeps_the_tokens_in_force_and_an_empty_one_opens_nothing(
    tokens_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.auth")
    registry = TokenRegistry(parse_tokens(None, str(tokens_file)), str(tokens_file))
    tokens_file.write_text("[[token]\nbroken")
    assert registry.reload() is False and registry.reload() is False
    assert {t.name for t in registry.tokens} == {"keeper", "dropped"}
    said = [r.getMessage() for r in caplog.records if "cannot use the tokens file" in r.getMessage()]
    assert len(said) == 1  # once, not at every look
    tokens_file.write_text("")
    revoked: list[frozenset[str]] = []
    registry.on_revoked(revoked.append)
    assert registry.reload() is True
    assert registry.tokens == () and registry.required  # everyone refused, nobody let in
    assert revoked == [frozenset({digest(KEEP), digest(DROP)})]


def test_a_scraper_token_reads_metrics_and_nothing_else(settings: Settings, tmp_path: Path) -> None:
    tokens = _file(tmp_path / "t.toml", scraper=(SCRAPER, "metrics"), writer=(WRITER, "ingest"))
    with LocalClient(create_app(_secured(settings, tokens))) as client:
        scrape = {"Authorization": f"Bearer {SCRAPER}"}
        write = {"Authorization": f"Bearer {WRITER}"}
        assert client.get("/metrics", headers=scrape).status_code == 200
        assert (
            client.post("/api/v1/events", json={"type": "user_activity", "userId": "u"}, headers=scrape).status_code
            == 403
        )
        assert client.get("/api/v1/analytics/realtime-metrics", headers=scrape).status_code == 403
        assert client.get("/metrics", headers=write).status_code == 403


def test_failed_authentications_are_said_once_a_minute_per_address_and_throttled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = AuthFailures(limit=5, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="server.auth")
    for _ in range(4):
        failures.failed("198.51.100.7", "invalid token")
        assert failures.wait("198.51.100.7") is None
    failures.failed("198.51.100.7", "invalid token")
    assert failures.wait("198.51.100.7") == 60.0  # past the limit: waits out the minute
    assert failures.wait("203.0.113.9") is None  # other addresses are not concerned
    now[0] = 61.0
    assert failures.wait("198.51.100.7") is None
    failures.failed("198.51.100.7", "no token")
    assert [r.getMessage() for r in caplog.records] == [
        "authentication failed { ip: '198.51.100.7', reason: 'invalid token', failures: 1 }",
        "too many failed authentications { ip: '198.51.100.7' }: it waits out the minute",
        "authentication failed { ip: '198.51.100.7', reason: 'no token', failures: 5 }",
    ]


def test_an_address_that_keeps_guessing_gets_429_while_valid_tokens_from_it_still_pass(
    settings: Settings, tokens_file: Path
) -> None:
    """Many clients share one address (a NAT, an office): one of them guessing must not lock out the rest."""
    with LocalClient(create_app(_secured(settings, tokens_file))) as client:
        guess = {"Authorization": "Bearer mt_guess"}
        statuses = [client.get("/api/v1/analytics/realtime-metrics", headers=guess).status_code for _ in range(62)]
        assert statuses == [401] * FAILURES_PER_MINUTE + [429] * 2
        missing = client.get("/api/v1/analytics/realtime-metrics")
        assert missing.status_code == 429 and int(missing.headers["retry-after"]) >= 59
        assert missing.json()["error"]["code"] == "rate_limited"
        valid = {"Authorization": f"Bearer {KEEP}"}
        assert client.get("/api/v1/analytics/realtime-metrics", headers=valid).status_code == 200
        with client.websocket_connect("/ws/metrics", headers=valid) as ws:
            assert ws.receive_json()["type"] == "metrics"
        with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/ws/metrics", headers=guess):
            pass
        assert refused.value.status_code == 429
        with client.websocket_connect("/ws/metrics") as ws:  # a guess in the first message
            ws.send_json({"type": "auth", "token": "mt_guess"})
            assert ws.receive_json()["error"]["code"] == "rate_limited"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4401
        with client.websocket_connect("/ws/metrics") as ws:  # a valid one in the first message
            ws.send_json({"type": "auth", "token": KEEP})
            assert ws.receive_json() == {"type": "auth", "ok": True}


def test_sockets_that_never_authenticate_do_not_lock_out_one_that_does(settings: Settings, tokens_file: Path) -> None:
    secured = replace(_secured(settings, tokens_file), sockets_per_address=2)
    with LocalClient(create_app(secured)) as client:
        waiting = [client.websocket_connect("/ws/metrics") for _ in range(8)]
        opened = [session.__enter__() for session in waiting]
        try:
            with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/ws/metrics"):
                pass
            assert refused.value.status_code == 429  # a ninth one waiting for its token
            # A client with its token in the handshake is not held up by them.
            with client.websocket_connect("/ws/metrics", headers={"Authorization": f"Bearer {KEEP}"}) as ws:
                assert ws.receive_json()["type"] == "metrics"
        finally:
            for ws, session in zip(opened, waiting, strict=True):
                ws.close()
                session.__exit__(None, None, None)


def test_a_socket_that_sends_no_token_is_closed_after_three_seconds_and_not_counted_as_a_guess(
    settings: Settings, tokens_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(_secured(settings, tokens_file)) as address, connect(f"ws://{address}/ws/metrics") as ws:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert 2.5 <= time.monotonic() - started < 8
    # Silence is bounded by the sockets-authenticating cap; counting it would let silent sockets
    # push an address's real clients towards the failure limit.
    assert not [r for r in caplog.records if "authentication failed" in r.getMessage()]


def test_refused_handshakes_are_said_once_a_minute_per_address_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    failures = AuthFailures(clock=lambda: now[0])
    for _ in range(3):
        failures.handshake_refused("198.51.100.7", 403, "origin not allowed")
    failures.handshake_refused("203.0.113.9", 401, "the API token is not valid")
    now[0] = 61.0
    failures.handshake_refused("198.51.100.7", 429, "too many sockets from this address")
    said = "WebSocket handshake refused { ip: '%s', status: %d, reason: '%s' } (%d in the last minute)"
    assert [r.getMessage() for r in caplog.records] == [
        said % ("198.51.100.7", 403, "origin not allowed", 1),
        said % ("203.0.113.9", 401, "the API token is not valid", 1),
        said % ("198.51.100.7", 429, "too many sockets from this address", 3),
    ]


def test_a_refused_handshake_is_answered_in_full_and_logs_no_error(
    settings: Settings, tokens_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn 0.54 would log "ASGI callable returned without completing handshake" for every refusal."""
    with serve(_secured(settings, tokens_file)) as address:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://{address}/ws/metrics", additional_headers={"Authorization": "Bearer mt_guess"})
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body)["error"]["code"] == "unauthorized"
        time.sleep(0.2)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
