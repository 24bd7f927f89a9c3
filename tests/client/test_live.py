"""The client package against a real sidecar: snapshots and alerts as async iterators, tokens,
and the command's lines on stdout and connection news on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal

import pytest

from metrics_client import ConnectionState, MetricsClient, Refused
from server.alerts.rules import Rule
from server.auth import digest, parse_tokens
from server.settings import Settings
from tests.support.live import serve

READ = "mt_client_read_token"
TOKENS = parse_tokens(f"script:read:{digest(READ)}", None)
# Fires on the first snapshot: there are never fewer than 0 active users.
ALWAYS = Rule("always", "activeUsers.current", "above", Decimal(-1), Decimal(-1))


async def test_snapshots_come_as_an_async_iterator_in_id_order(settings: Settings) -> None:
    with serve(settings) as address:
        client = MetricsClient(f"ws://{address}/ws/metrics")
        ids: list[int] = []
        async for snapshot in client.snapshots():
            if ids and snapshot["snapshotId"] == ids[-1]:
                # On a loaded machine the next snapshot can be late: the same one comes again,
                # marked stale (the only way an id repeats).
                assert snapshot["stale"] is True
                continue
            ids.append(snapshot["snapshotId"])
            if len(ids) == 3:
                break
    assert ids == sorted(ids) and len(set(ids)) == 3


async def test_alerts_come_as_an_async_iterator_firing_ones_first(settings: Settings) -> None:
    with serve(replace(settings, alert_rules=(ALWAYS,))) as address:
        alert = await anext(aiter(MetricsClient(f"ws://{address}/ws/metrics").alerts()))
    assert (alert["rule"], alert["state"], alert["value"]) == ("always", "firing", 0)


async def test_a_refused_token_ends_at_once_without_retrying(settings: Settings) -> None:
    states: list[ConnectionState] = []
    with serve(replace(settings, tokens=TOKENS)) as address:
        client = MetricsClient(f"ws://{address}/ws/metrics", token="wrong", on_state=states.append)
        with pytest.raises(Refused, match="refused the token \\(HTTP 401\\)"):
            async for _ in client.snapshots():
                pass
        async for snapshot in MetricsClient(f"ws://{address}/ws/metrics", token=READ).snapshots():
            assert snapshot["snapshotId"] >= 1
            break
    assert [s.status for s in states] == ["connecting", "gave_up"]


def _command(*args: str, token: str | None = None, module: str = "metrics_client") -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "METRICS_TOKEN"}
    if token is not None:
        env["METRICS_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_the_command_takes_its_token_from_the_environment_and_says_when_refused(settings: Settings) -> None:
    with serve(replace(settings, tokens=TOKENS)) as address:
        url = f"ws://{address}/ws/metrics"
        refused = _command("tail", "--url", url)
        assert refused.wait(timeout=30) == 2
        # No token at all: the socket opens and the sidecar closes it with 4401 for want of one.
        assert refused.stderr is not None and "refused the token (close 4401)" in refused.stderr.read()

        allowed = _command("tail", "--url", url, token=READ)
        try:
            assert allowed.stdout is not None
            assert json.loads(allowed.stdout.readline())["snapshotId"] >= 1
        finally:
            allowed.terminate()
            allowed.wait(timeout=10)


def test_the_command_reports_a_lost_connection_on_stderr_and_retries(settings: Settings) -> None:
    with serve(replace(settings, alert_rules=(ALWAYS,))) as address:
        process = _command("alerts", "--url", f"ws://{address}/ws/metrics")
        assert process.stdout is not None and process.stderr is not None
        assert json.loads(process.stdout.readline())["rule"] == "always"
        assert process.stderr.readline().strip() == f"connected to ws://{address}/ws/metrics"
    try:
        # The sidecar is gone: the command says so and waits the first backoff step.
        assert process.stderr.readline().strip() in (
            "disconnected: connection closed (1001); retrying in 1 s",
            "disconnected: the connection was closed; retrying in 1 s",
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_python_m_server_client_is_an_alias_of_the_package_command(settings: Settings) -> None:
    """The contract names `python -m server.client tail`: it runs the package's command."""
    with serve(replace(settings, tokens=TOKENS)) as address:
        alias = _command("tail", "--url", f"ws://{address}/ws/metrics", token=READ, module="server.client")
        try:
            assert alias.stdout is not None and alias.stderr is not None
            assert json.loads(alias.stdout.readline())["snapshotId"] >= 1
            assert alias.stderr.readline().strip() == f"connected to ws://{address}/ws/metrics"
        finally:
            alias.terminate()
            alias.wait(timeout=10)
