"""The client's own settings: METRICS_API_URL, METRICS_WS_URL and METRICS_TOKEN, from the environment
or a `.env`, and nothing of the sidecar's, so that a sidecar's `.env` never stops a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metrics_client import ClientConfigurationError, ClientSettings
from server.errors import ConfigurationError
from server.settings import Settings
from tests.support.live import serve

ROOT = Path(__file__).resolve().parents[2]
# What a sidecar's `.env` may hold that the sidecar itself refuses to start with: listening on
# every address without tokens. None of it is the client's business.
SIDECAR_ENV = "HOST=0.0.0.0\nPORT=8080\nDATABASE_URL=postgresql://u@db/metrics\nMETRICS_INTERVAL=soon\n"


def test_defaults_are_the_sidecar_on_localhost() -> None:
    settings = ClientSettings.from_env({}, env_file=None)
    assert settings == ClientSettings()
    assert (settings.api_url, settings.ws_url, settings.token) == (
        "http://localhost:3000",
        "ws://localhost:3000/ws/metrics",
        None,
    )


def test_its_three_variables_are_read_and_the_real_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("METRICS_API_URL=http://from-file:1\nMETRICS_WS_URL=ws://from-file:1/ws/metrics\n")
    settings = ClientSettings.from_env(
        {"METRICS_API_URL": "https://api.example", "METRICS_TOKEN": " mt_secret "}, env_file=env_file
    )
    assert (settings.api_url, settings.ws_url, settings.token) == (
        "https://api.example",
        "ws://from-file:1/ws/metrics",
        "mt_secret",
    )
    assert "mt_secret" not in repr(settings)


def test_a_sidecar_env_file_does_not_concern_the_client(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(SIDECAR_ENV)
    with pytest.raises(ConfigurationError):  # the sidecar could not start with this file...
        Settings.from_env({}, env_file=env_file)
    assert ClientSettings.from_env({}, env_file=env_file) == ClientSettings()  # ...the client does not care


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("METRICS_WS_URL", "http://localhost:3000/ws/metrics", "METRICS_WS_URL must start with ws:// or wss://"),
        ("METRICS_API_URL", "localhost:3000", "METRICS_API_URL must start with http:// or https://"),
    ],
)
def test_a_url_with_the_wrong_scheme_is_refused_by_name(name: str, value: str, message: str) -> None:
    with pytest.raises(ClientConfigurationError, match=message):
        ClientSettings.from_env({name: value}, env_file=None)


def _run_in(cwd: Path, module: str, *args: str) -> subprocess.Popen[str]:
    """The command started in `cwd` (where its `.env` is), with the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METRICS_", "HOST", "PORT", "DATABASE_URL"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("module", ["metrics_client", "server.client"])
def test_the_command_runs_beside_a_sidecar_env_file(module: str, settings: Settings, tmp_path: Path) -> None:
    """A script's folder whose `.env` says HOST=0.0.0.0 without tokens (the sidecar's refusal) still
    tails: the client reads only its own variables from that file, here the socket's URL."""
    with serve(settings) as address:
        (tmp_path / ".env").write_text(SIDECAR_ENV + f"METRICS_WS_URL=ws://{address}/ws/metrics\n")
        process = _run_in(tmp_path, module, "tail")
        try:
            assert process.stdout is not None and process.stderr is not None
            line = process.stdout.readline()
            assert line, f"no snapshot; stderr: {process.stderr.read() if process.poll() is not None else ''}"
            assert json.loads(line)["snapshotId"] >= 1
            assert process.stderr.readline().strip() == f"connected to ws://{address}/ws/metrics"
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_the_command_names_an_unusable_variable_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("METRICS_WS_URL=localhost:3000\n")
    process = _run_in(tmp_path, "metrics_client", "tail")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert err.strip() == "configuration error: METRICS_WS_URL must start with ws:// or wss://, got 'localhost:3000'"
