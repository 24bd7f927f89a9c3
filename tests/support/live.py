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
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from server.app import SidecarServer, create_app, uvicorn_config
from server.settings import Settings


@dataclass(frozen=True)
class Served:
    address: str  # host:port
    app: Starlette  # its `state` holds the hub and the snapshot loop while it runs


@contextmanager
def serve(settings: Settings, *, send_buffer: int | None = None, port: int = 0, **overrides: Any) -> Iterator[str]:
    """Run the sidecar on a free loopback port; yields its `host:port`."""
    with serving(settings, send_buffer=send_buffer, port=port, **overrides) as served:
        yield served.address


@contextmanager
def serving(settings: Settings, *, send_buffer: int | None = None, port: int = 0, **overrides: Any) -> Iterator[Served]:
    """Run the sidecar on a free loopback port; yields its address and app.

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
        yield Served(address, app)
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
        self._buffer = b""

    def send_text(self, text: str) -> None:
        self.send_bytes_frame(0x81, text.encode())

    def send_bytes_frame(self, first_byte: int, payload: bytes) -> None:
        """One masked frame with any payload: 0x81 is a final text frame (even if `payload` is not
        UTF-8), 0x89 a ping."""
        self.sock.sendall(self.frame_bytes(first_byte, payload))

    @staticmethod
    def frame_bytes(first_byte: int, payload: bytes) -> bytes:
        mask = os.urandom(4)
        header = bytes([first_byte])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
        return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def next_frame(self, timeout: float) -> tuple[int, bytes] | None:
        """The next frame from the server as (opcode, payload); None when the connection ends."""
        self.sock.settimeout(timeout)
        while True:
            if len(self._buffer) >= 2:
                opcode, size = self._buffer[0] & 0x0F, self._buffer[1] & 0x7F
                start = 2 + (2 if size == 126 else 8 if size == 127 else 0)
                if len(self._buffer) >= start:
                    if size >= 126:
                        size = int.from_bytes(self._buffer[2:start], "big")
                    if len(self._buffer) >= start + size:
                        payload = self._buffer[start : start + size]
                        self._buffer = self._buffer[start + size :]
                        return opcode, payload
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk

    def close_code(self, timeout: float) -> int | None:
        """Read until the server's close frame; its code (None if the connection ends without one)."""
        while (frame := self.next_frame(timeout)) is not None:
            opcode, payload = frame
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big")
        return None

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
