"""A webhook receiver of the tests' own: a real HTTP server on a spare loopback port, in a thread,
that keeps every request it gets and answers as the test scripts it (a status list, or hanging
until released)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "test-secret-0123456789-abcdef"  # the signing secret the tests give their webhooks
HANG_LIMIT = 60.0  # seconds a hanging answer waits for release at most, so no thread outlives a failed test


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []  # answers to give, first to last; then `default_status`
        self.default_status = 200
        self.extra_headers: dict[str, str] = {}  # sent with every answer (Retry-After, say)
        self.hang = False  # while True, requests are kept waiting (after being recorded) until `release()`
        self.in_progress = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.url = ""

    def release(self) -> None:
        self.hang = False
        self._released.set()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {len(self.received)} request(s), not {count}")
            time.sleep(0.01)
        return list(self.received)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length)
        with self._lock:
            self.received.append(Received(handler.path, {k.lower(): v for k, v in handler.headers.items()}, body))
            status = self.statuses.pop(0) if self.statuses else self.default_status
            hang = self.hang
            self.in_progress += 1
        try:
            if hang:
                self._released.wait(HANG_LIMIT)
            handler.send_response(status)
            for name, value in self.extra_headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"ok")
        finally:
            with self._lock:
                self.in_progress -= 1


@contextmanager
def receiving(path: str = "/hooks/metrics") -> Iterator[Receiver]:
    """A receiver at `http://127.0.0.1:<port><path>`, stopped (and released) on exit."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver._answer(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()


def verified(received: Received, secret: str = SECRET) -> bool:
    """The receiver's check, as the README documents it (written here independently of the server)."""
    timestamp = received.headers["x-metrics-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, received.headers["x-metrics-signature"])


def body_of(received: Received) -> Any:
    return json.loads(received.body)
