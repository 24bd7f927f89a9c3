"""The sidecar served by real uvicorn in a background thread, and a raw WebSocket peer that
can misbehave (stop reading, never answer pings) in ways a well-behaved client library won't.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from server.app import SidecarServer, create_app, uvicorn_config
from server.settings import Settings


@contextmanager
def serve(settings: Settings, *, send_buffer: int | None = None, port: int = 0, **overrides: Any) -> Iterator[str]:
    """Run the sidecar on a free loopback port; yields its `host:port`.

    `send_buffer` shrinks the kernel send buffer of accepted sockets (they inherit it from the
    listening socket), so that a client that stops reading stalls the server's writes quickly.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart may take the same port at once
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", port))
    address = f"127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings)
    server = SidecarServer(uvicorn_config(settings, app, **{"timeout_graceful_shutdown": 1, **overrides}), app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sidecar did not start")
        time.sleep(0.05)
    try:
        yield address
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def prometheus_value(address: str, sample: str) -> float:
    """The value of one sample line of the sidecar's /metrics (0 when absent)."""
    for line in httpx.get(f"http://{address}/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def wait_until(condition: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {message}")
        time.sleep(0.05)


class RawPeer:
    """A WebSocket client on a bare socket: it reads only when told to."""

    def __init__(self, address: str, receive_buffer: int | None = None, origin: str | None = None) -> None:
        host, port = address.split(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        headers = (
            f"GET /ws/metrics HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        )
        if origin is not None:
            headers += f"Origin: {origin}\r\n"
        self.sock.sendall((headers + "\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(1)
            if not chunk:
                break
            response += chunk
        self.status = int(response.split(b" ", 2)[1]) if response else 0

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def is_closed_by_server(self, timeout: float) -> bool:
        """Read (and discard) until the server ends the connection; False if it is still open."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        return True

    def close(self) -> None:
        self.sock.close()
