"""Secrets files that other users may read are said at start, by the sidecar and the dashboard."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server.auth import digest
from server.file_permissions import readable_by_others
from tests.support.faults import free_port

ROOT = Path(__file__).parents[1]


def test_files_readable_by_group_or_others_are_found(tmp_path: Path) -> None:
    modes = {"owner.env": 0o600, "group.env": 0o640, "world.toml": 0o644, "owner-rw-x.env": 0o700}
    for name, mode in modes.items():
        (tmp_path / name).write_text("secret")
        (tmp_path / name).chmod(mode)
    found = readable_by_others([tmp_path / name for name in [*modes, "missing.env"]])
    assert found == [(tmp_path / "group.env", "0o640"), (tmp_path / "world.toml", "0o644")]


def test_the_sidecar_warns_at_start_about_a_readable_env_and_tokens_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(f'[[token]]\nname = "ops"\nscopes = ["admin"]\nsha256 = "{digest("x")}"\n')
    tokens.chmod(0o644)
    env_file = tmp_path / ".env"
    env_file.write_text(f"METRICS_TOKENS_FILE={tokens}\n")
    env_file.chmod(0o604)
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("METRICS_")}
    environ.update(PYTHONPATH=str(ROOT), PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path / 'm.db'}", REDIS_URL="")
    log_path = tmp_path / "log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "server"], cwd=tmp_path, env=environ, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while "Uvicorn running" not in log_path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
    output = log_path.read_text()
    assert ".env holds secrets but is readable by other users (mode 0o604); run: chmod 600 .env" in output
    assert f"{tokens} holds secrets but is readable by other users (mode 0o644)" in output
    tokens.chmod(0o600)
    env_file.chmod(0o600)
    assert readable_by_others([env_file, tokens]) == []
