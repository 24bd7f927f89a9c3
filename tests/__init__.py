"""The test suite. It tests the client package of this repository (`client/`), so that package
must be installed editable from here (requirements.txt does so): an installed copy, or one from
another checkout, would be tested in its place without a word."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_CLIENT_PACKAGE = Path(__file__).resolve().parents[1] / "client" / "metrics_client"
_found = importlib.util.find_spec("metrics_client")
_found_at = Path(_found.origin).resolve().parent if _found is not None and _found.origin else None
if _found_at != _CLIENT_PACKAGE:
    raise ImportError(
        f"metrics_client is imported from {_found_at or 'nowhere'}, not from {_CLIENT_PACKAGE}: "
        "run `.venv/bin/pip install -e ./client` (or scripts/bootstrap.sh) in this checkout"
    )
