"""The commands that moved out of `server/` still answer by their old names (the contract names
`python -m server.simulate`; scripts may name the others): each alias runs the tool itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _help(module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("alias", "tool", "says"),
    [
        ("server.simulate", "tools.simulate", "Send realistic demo traffic to a running sidecar"),
        ("server.demo", "tools.demo", "Seed demo history"),
        ("server.tokens", "tools.tokens", "Make an API token."),
    ],
)
def test_the_old_command_is_the_tool(alias: str, tool: str, says: str) -> None:
    old, new = _help(alias), _help(tool)
    assert (old.returncode, new.returncode) == (0, 0), old.stderr + new.stderr
    assert says in new.stdout
    assert old.stdout == new.stdout
