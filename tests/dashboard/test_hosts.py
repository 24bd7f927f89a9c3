"""The dashboard answers only by the host names it is configured for (DNS rebinding refused)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.faults import free_port

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def dashboard_port() -> Iterator[int]:
    port = free_port()
    command = [str(ROOT / ".venv/bin/streamlit"), "run", "app.py", "--server.port", str(port)]
    env = {**os.environ, "METRICS_WS_URL": "ws://127.0.0.1:1/ws/metrics"}  # no sidecar needed
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.3)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


def _upgrade_status(port: int, host: str) -> int:
    """The status of a WebSocket upgrade of the dashboard's stream, with this Host and a same-origin Origin."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        return int(sock.recv(1024).split(b" ", 2)[1])


def test_a_page_that_rebinds_its_own_name_to_the_dashboard_is_refused(dashboard_port: int) -> None:
    assert _upgrade_status(dashboard_port, f"attacker.example:{dashboard_port}") == 403


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_the_dashboards_own_names_are_served(dashboard_port: int, host: str) -> None:
    assert _upgrade_status(dashboard_port, f"{host}:{dashboard_port}") == 101
