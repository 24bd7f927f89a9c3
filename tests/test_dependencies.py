"""The lock files install exactly the pins of the requirements files (scripts/lock.sh makes them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;\\]+)", re.M)


def _pins(text: str) -> dict[str, str]:
    return {name.lower().replace("_", "-"): version for name, _extras, version in _PIN.findall(text)}


def _direct(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    pins = _pins(text)
    if "-r requirements.txt" in text:
        pins |= _direct("requirements.txt")
    return pins


@pytest.mark.parametrize("name", ["requirements", "requirements-dev"])
def test_every_direct_pin_is_locked_at_its_version_with_hashes(name: str) -> None:
    lock = (ROOT / f"{name}.lock").read_text()
    locked = _pins(lock)
    direct = _direct(f"{name}.txt")
    assert {p: locked.get(p) for p in direct} == direct, "run scripts/lock.sh after changing the requirements"
    # Every locked package carries at least one hash (pip installs it with --require-hashes).
    blocks = re.split(r"\n(?=\S)", lock.split("\n", 1)[1].strip())
    assert blocks and all("--hash=sha256:" in block for block in blocks)
