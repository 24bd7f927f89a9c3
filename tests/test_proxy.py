"""Behind real nginx, configured with the README's block: WebSockets pass, the client address is the
one nginx saw (a client's own X-Forwarded-For or Forwarded changes nothing), and a trusted proxy's
address for the client is what the per-address cap, the rate limit and the logs count.

Needs Debian's nginx: without it the tests skip and say why, and on CI (`CI` set) they fail.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from server.settings import Settings
from tests.support.faults import free_port
from tests.support.live import serving, wait_until

ROOT = Path(__file__).parents[1]
NGINX = Path("/usr/sbin/nginx")
ELSEWHERE = "198.51.100.7"  # the client address the "elsewhere" site says, as a proxy on another host would
SNAPSHOT = "/api/v1/analytics/realtime-metrics"


def _nginx_problem() -> str | None:
    if not os.access(NGINX, os.X_OK):
        return f"no nginx at {NGINX} (apt-get install nginx; ./test.sh does it when run as root)"
    return None


def _require_nginx() -> None:
    problem = _nginx_problem()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the proxy tests: {problem}")
        pytest.skip(problem)


def _substitute(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the README's nginx block no longer has exactly one {old!r}"
    return text.replace(old, new)


def _site(name: str, listen: int, upstreams: list[str], forwarded_for: str | None = None) -> str:
    """The README's nginx block, served on a loopback port in front of `upstreams`, without TLS.

    `forwarded_for` replaces `$remote_addr` as the address nginx sends for every client."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```nginx\n", 1)[1].split("```", 1)[0]
    servers = " ".join(f"server {address};" for address in upstreams)
    block, found = re.subn(r"upstream sidecars \{[^}]*\}", f"upstream {name} {{ {servers} }}", block)
    assert found == 1, "the README's nginx block no longer has one `upstream sidecars { ... }`"
    block = _substitute(block, "proxy_pass http://sidecars;", f"proxy_pass http://{name};")
    block = _substitute(block, "listen 443 ssl;", f"listen 127.0.0.1:{listen};")
    block = re.sub(r"\n\s*ssl_certificate(_key)? [^;]*;", "", block)
    if forwarded_for is not None:
        line = "proxy_set_header X-Forwarded-For $remote_addr;"
        block = _substitute(block, line, line.replace("$remote_addr", forwarded_for))
    return block


@dataclass(frozen=True)
class Proxy:
    balanced: int  # nginx's port in front of both sidecars
    first: int  # nginx's port in front of the first sidecar only, so its counts are exact
    elsewhere: int  # in front of the second sidecar, saying every client is ELSEWHERE
    second_direct: str  # the second sidecar's own host:port, bypassing nginx


@contextlib.contextmanager
def _nginx(directory: Path, sites: list[str], ports: list[int]) -> Iterator[None]:
    # Workers run as nginx's unprivileged default user when the tests run as root: they must be able
    # to reach the temp paths.
    directory.chmod(0o755)
    config = directory / "nginx.conf"
    paths = "\n".join(
        f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config.write_text(
        f"worker_processes 1;\npid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n    access_log off;\n{paths}\n" + "\n".join(sites) + "\n}\n"
    )
    process = subprocess.Popen(
        [str(NGINX), "-p", str(directory), "-c", str(config), "-e", str(directory / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not all(_listening(port) for port in ports):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (directory / "error.log").read_text() if (directory / "error.log").exists() else ""
                raise AssertionError(f"nginx did not start (exit {process.poll()}): {log}")
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def proxy() -> Iterator[Proxy]:
    """Two sidecars trusting 127.0.0.1 as their proxy (2 sockets per address, one request per
    address every 2 s), and nginx in front of them."""
    _require_nginx()
    with tempfile.TemporaryDirectory(prefix="metrics-nginx-") as temp, contextlib.ExitStack() as stack:
        directory = Path(temp)

        def sidecar(name: str) -> str:
            settings = Settings(
                database_url=f"sqlite:///{directory / name}.db",
                embedded=False,
                interval=0.5,
                trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),),
                sockets_per_address=2,
                requests_per_second=0.5,
            )
            return stack.enter_context(serving(settings)).address

        first, second = sidecar("first"), sidecar("second")
        ports = [free_port() for _ in range(3)]
        sites = [
            _site("sidecars", ports[0], [first, second]),
            _site("first", ports[1], [first]),
            _site("elsewhere", ports[2], [second], forwarded_for=ELSEWHERE),
        ]
        stack.enter_context(_nginx(directory, sites, ports))
        yield Proxy(*ports, second_direct=second)


@pytest.fixture
def connections(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The sidecars' connect/disconnect log lines; after the test, every socket's place is given
    back (its `disconnected` line is written just before the cap releases it, in the same step of
    the sidecar's event loop), so the next test starts from zero."""
    caplog.set_level(logging.INFO, logger="server.ws")
    yield caplog
    wait_until(lambda: len(_lines(caplog, "disconnected")) == len(_lines(caplog, "connected")), 10, "sockets closed")


def _lines(caplog: pytest.LogCaptureFixture, what: str) -> list[str]:
    prefix = f"WebSocket client {what} "
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]


def _socket(port: int | str, **headers: str) -> ClientConnection:
    address = port if isinstance(port, str) else f"127.0.0.1:{port}"
    return connect(f"ws://{address}/ws/metrics", additional_headers=headers, open_timeout=10)


def _refused(port: int | str, **headers: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        _socket(port, **headers).close()
    return refused.value.response.status_code


def _first_push(ws: ClientConnection) -> str:
    """The snapshotId of the first snapshot pushed on `ws`."""
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message["type"] == "metrics":
            return str(message["data"]["snapshotId"])


def test_websockets_and_rest_pass_through_nginx(proxy: Proxy, connections: pytest.LogCaptureFixture) -> None:
    with _socket(proxy.balanced) as one, _socket(proxy.balanced) as two:
        assert _first_push(one).isdigit() and _first_push(two).isdigit()
    with httpx.Client(trust_env=False) as http:
        health = http.get(f"http://127.0.0.1:{proxy.balanced}/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_a_forged_header_through_nginx_is_replaced_by_the_address_nginx_saw(
    proxy: Proxy, connections: pytest.LogCaptureFixture
) -> None:
    # Every socket says it is someone else; nginx overwrites X-Forwarded-For, and the client's own
    # Forwarded (which nginx passes on) loses to it: all three are 127.0.0.1, which may hold two.
    with (
        _socket(proxy.first, **{"X-Forwarded-For": "203.0.113.9"}) as one,
        _socket(proxy.first, Forwarded="for=203.0.113.10") as two,
    ):
        assert _first_push(one) and _first_push(two)
        assert _refused(proxy.first, **{"X-Forwarded-For": "203.0.113.11", "Forwarded": "for=203.0.113.11"}) == 429
    assert _lines(connections, "connected") == ["WebSocket client connected { ip: '127.0.0.1' }"] * 2
    # One request per address every 2 s: a new forged address is no new budget.
    with httpx.Client(base_url=f"http://127.0.0.1:{proxy.first}", trust_env=False) as http:
        first = http.get(SNAPSHOT, headers={"X-Forwarded-For": "203.0.113.9"})
        second = http.get(SNAPSHOT, headers={"X-Forwarded-For": "203.0.113.10", "Forwarded": "for=203.0.113.10"})
    assert first.status_code == 200 and "snapshotId" in first.json()
    assert second.status_code == 429


def test_the_client_a_trusted_proxy_names_is_the_one_counted(
    proxy: Proxy, connections: pytest.LogCaptureFixture
) -> None:
    # The "elsewhere" site says every client is 198.51.100.7, whatever the client itself sends.
    with (
        _socket(proxy.elsewhere, **{"X-Forwarded-For": "203.0.113.9"}) as one,
        _socket(proxy.elsewhere) as two,
    ):
        assert _first_push(one) and _first_push(two)
        assert _refused(proxy.elsewhere, **{"X-Forwarded-For": "203.0.113.10"}) == 429
        # 127.0.0.1 itself, straight to the same sidecar, has a count of its own.
        with _socket(proxy.second_direct) as direct:
            assert _first_push(direct)
    assert _lines(connections, "connected") == [f"WebSocket client connected {{ ip: '{ELSEWHERE}' }}"] * 2 + [
        "WebSocket client connected { ip: '127.0.0.1' }"
    ]
    with httpx.Client(trust_env=False) as http:
        through = [
            http.get(f"http://127.0.0.1:{proxy.elsewhere}{SNAPSHOT}", headers={"X-Forwarded-For": forged})
            for forged in ("203.0.113.9", "203.0.113.10")
        ]
        direct = http.get(f"http://{proxy.second_direct}{SNAPSHOT}")
    assert [answer.status_code for answer in through] == [200, 429]
    assert direct.status_code == 200  # 198.51.100.7's budget is spent, 127.0.0.1's is not
