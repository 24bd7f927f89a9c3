"""The test suite. It tests the client package of this checkout (`client/`), whatever copy of it
the virtualenv holds: a virtualenv shared by several checkouts, or an old non-editable install,
would otherwise have the suite test other code without a word. So this checkout's `client/`
comes first on the path, here and (through PYTHONPATH) in every process a test starts.
`tests/client/test_install.py` tests the package as pip installs it, in a fresh environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_CLIENT_DIR = str(Path(__file__).resolve().parents[1] / "client")
sys.path.insert(0, _CLIENT_DIR)
os.environ["PYTHONPATH"] = os.pathsep.join([_CLIENT_DIR, *filter(None, [os.environ.get("PYTHONPATH")])])

import metrics_client  # noqa: E402  (after the path is set, to check it)

if Path(metrics_client.__file__).resolve().parent != Path(_CLIENT_DIR) / "metrics_client":
    raise ImportError(f"metrics_client was imported from {metrics_client.__file__} before the tests could choose")
