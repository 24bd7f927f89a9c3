"""`pip install ./client` into a fresh virtual environment: the package installs from the repository
folder alone, with only its own dependencies, and works against a running sidecar without any of
the sidecar's code on the path (sync REST, the async socket through its command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.settings import Settings
from tests.support.live import serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new virtual environment holding only the client package and what it depends on (some seconds:
    pip fetches websockets, httpx and python-dotenv from the package index)."""
    venv = tmp_path_factory.mktemp("client-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT / "client")],
        capture_output=True,
        text=True,
        timeout=600,
        env=_outside_env(),
    )
    assert installed.returncode == 0, installed.stderr
    yield venv


def _outside_env() -> dict[str, str]:
    """The environment less anything that would put this repository or its virtualenv on the path."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def _python(venv: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=cwd,
        env=_outside_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_package_installs_with_its_own_dependencies_only(client_venv: Path, tmp_path: Path) -> None:
    shown = _python(
        client_venv,
        "import importlib.metadata as m, importlib.util as u, metrics_client, sys\n"
        "print(metrics_client.__file__)\n"
        "print(u.find_spec('server') is None, u.find_spec('starlette') is None, u.find_spec('sqlalchemy') is None)\n"
        "names = lambda rs: sorted(r.split(';')[0].split('>')[0].split('<')[0].strip() for r in rs)\n"
        "required = m.requires('metrics-client')\n"
        "print(names(r for r in required if 'extra ==' not in r), names(r for r in required if 'extra ==' in r))\n"
        "print(u.find_spec('pandas') is None)",
        tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    location, absent, requires, no_pandas = shown.stdout.splitlines()
    assert location.startswith(str(client_venv)), "imported from the new environment, not the repository"
    assert absent == "True True True", "neither the sidecar's code nor its libraries are there"
    # pandas only as the optional extra (`pip install './client[pandas]'`), not installed by default.
    assert requires == "['httpx', 'python-dotenv', 'websockets'] ['pandas']"
    assert no_pandas == "True"


def test_the_installed_package_reads_a_running_sidecar(client_venv: Path, settings: Settings, tmp_path: Path) -> None:
    with serve(settings) as address:
        rest = _python(
            client_venv,
            f"from metrics_client import ApiClient\nprint(ApiClient('http://{address}').realtime_metrics()['snapshotId'])",
            tmp_path,
        )
        assert rest.returncode == 0, rest.stderr
        assert int(rest.stdout) >= 1

        tail = subprocess.Popen(
            [str(client_venv / "bin" / "metrics-client"), "tail", "--url", f"ws://{address}/ws/metrics"],
            cwd=tmp_path,
            env=_outside_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert tail.stdout is not None
            assert json.loads(tail.stdout.readline())["snapshotId"] >= int(rest.stdout)
        finally:
            tail.terminate()
            tail.wait(timeout=10)
