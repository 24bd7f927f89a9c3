"""Files that hold secrets (`.env`, the tokens file, Streamlit's `secrets.toml`) should be readable
by their owner alone; the sidecar and the dashboard say so at start when one is not."""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path


def readable_by_others(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """Each existing file of `paths` that its group or others may read, with its mode (`0o644`)."""
    found = []
    for raw in paths:
        path = Path(raw)
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and mode & (stat.S_IRGRP | stat.S_IROTH):
            found.append((path, oct(stat.S_IMODE(mode))))
    return found


def warning_for(path: Path, mode: str) -> str:
    return f"{path} holds secrets but is readable by other users (mode {mode}); run: chmod 600 {path}"
