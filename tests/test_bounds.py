"""Bounds that hold before any token is checked, on real uvicorn: the size of a request's headers,
deadlines for its headers and body, and a limit on open connections."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from tests.support.live import serve

FAST = {"header_timeout": 1.0, "body_timeout": 1.0}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """These bounds sit in front of the app: one stack is enough."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", interval=0.5, embedded=False)


def _connect(address: str) -> socket.socket:
    host, port = address.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server ends the connection within `seconds` (whatever it sends first)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_a_header_larger_than_16_kb_is_refused_before_the_app(settings: Settings) -> None:
    with serve(settings) as address:
        big = "x" * (64 * 1024)
        answer = httpx.get(f"http://{address}/health", headers={"X-Big": big})
        assert answer.status_code == 400
        fits = httpx.get(f"http://{address}/health", headers={"X-Small": "x" * 8 * 1024})
        assert fits.status_code == 200


def test_a_silent_connection_is_closed_after_the_header_deadline(settings: Settings) -> None:
    with serve(replace(settings, **FAST)) as address:
        sock = _connect(address)
        started = time.monotonic()
        assert _closed_within(sock, 10)
        assert time.monotonic() - started < 5  # 1 s deadline; a busy machine may add a little
        sock.close()


def test_headers_trickled_a_line_at_a_time_are_cut_off(settings: Settings) -> None:
    with serve(replace(settings, **FAST)) as address:
        sock = _connect(address)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        started = time.monotonic()
        closed = False
        for n in range(40):  # a header line every 0.25 s: each arrives well within any per-read timeout
            time.sleep(0.25)
            try:
                sock.sendall(f"X-Trickle-{n}: y\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed or _closed_within(sock, 1)
        assert time.monotonic() - started < 5
        sock.close()


def test_a_trickled_body_is_cut_off_after_the_body_deadline(settings: Settings) -> None:
    with serve(replace(settings, **FAST)) as address:
        sock = _connect(address)
        sock.sendall(
            b"POST /api/v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        started = time.monotonic()
        closed = False
        for _ in range(40):
            time.sleep(0.25)
            try:
                sock.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed or _closed_within(sock, 1)
        assert time.monotonic() - started < 5
        sock.close()


def test_a_kept_alive_connection_has_the_same_deadline_for_its_next_request(settings: Settings) -> None:
    with serve(replace(settings, **FAST)) as address:
        sock = _connect(address)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /health HTTP/1.1\r\n")  # the next request's headers never end
        started = time.monotonic()
        for n in range(40):
            time.sleep(0.25)
            try:
                sock.sendall(f"X-Trickle-{n}: y\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                break
        assert time.monotonic() - started < 5
        sock.close()


def test_requests_that_arrive_in_time_are_served_on_one_connection(settings: Settings) -> None:
    with serve(replace(settings, **FAST)) as address, httpx.Client() as http:
        for _ in range(3):
            assert http.get(f"http://{address}/health").status_code == 200
            time.sleep(0.4)  # below the keep-alive timeout: the same connection serves the next
        body = b'{"type": "user_activity", "userId": "u"}'
        answer = http.post(
            f"http://{address}/api/v1/events", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 200


@pytest.mark.parametrize("soft", [256, 20_000])
def test_the_default_connection_limit_leaves_room_in_the_open_file_limit(
    soft: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, 1_048_576))
    assert Settings().max_connections_allowed == soft - 64
    assert Settings(max_connections=10).max_connections_allowed == 10


def test_one_address_cannot_hold_more_than_its_share_of_connections(settings: Settings) -> None:
    """Silent connections from one address stop at METRICS_CONNECTIONS_PER_ADDRESS; the next is closed
    at once, and a request of anyone's is answered while they sit there."""
    with serve(replace(settings, connections_per_address=5)) as address:
        idle = [_connect(address) for _ in range(5)]
        try:
            extra = _connect(address)
            assert _closed_within(extra, 2)  # closed as soon as it was accepted
            extra.close()
            for sock in idle:  # still open: none of them is closed for the sixth
                sock.settimeout(0.1)
                with pytest.raises(TimeoutError):
                    sock.recv(1)
            # Another address (127.0.0.2 is loopback too) is served meanwhile.
            other = httpx.HTTPTransport(local_address="127.0.0.2")
            with httpx.Client(transport=other, timeout=5) as http:
                assert http.get(f"http://{address}/health").status_code == 200
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.2)
        assert httpx.get(f"http://{address}/health", timeout=5).status_code == 200


def test_past_the_connection_limit_a_new_connection_is_closed_when_accepted(settings: Settings) -> None:
    """So that file handles stay free for the requests that are answered, nothing piles up."""
    with serve(replace(settings, max_connections=4)) as address:
        idle = [_connect(address) for _ in range(4)]
        try:
            extra = _connect(address)
            assert _closed_within(extra, 2)
            extra.close()
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.2)  # the freed handles serve again
        assert httpx.get(f"http://{address}/health", timeout=5).status_code == 200


def test_a_body_cut_short_by_its_client_counts_as_incomplete_and_stores_nothing(settings: Settings) -> None:
    """The client closes its side half-way through the body: an outcome of its own, not a server error."""
    with serve(settings) as address:
        sock = _connect(address)
        sock.sendall(
            b"POST /api/v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n[{"type": "user_activity", "userId": "u1"}'
        )
        sock.shutdown(socket.SHUT_WR)
        assert _closed_within(sock, 5)
        sock.close()
        exposition = ""
        for _ in range(50):  # the handler finishes just after the connection ends
            exposition = httpx.get(f"http://{address}/metrics", headers={"host": "localhost"}, timeout=5).text
            if 'outcome="incomplete_body"} 1.0' in exposition:
                break
            time.sleep(0.05)
        assert 'metrics_ingest_requests_total{outcome="incomplete_body"} 1.0' in exposition
        assert 'metrics_ingest_events_total{result="accepted"} 0.0' in exposition
