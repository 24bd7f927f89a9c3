"""`python -m server.client tail | alerts`: an alias of `python -m metrics_client`, kept because
the contract names it. The client itself is the package `metrics_client` (`client/` at the
repository's top, `pip install ./client`), which depends on nothing of the sidecar's.
"""

from __future__ import annotations

import sys

from metrics_client import ConnectionState, GaveUp, MetricsClient, Refused
from metrics_client.cli import main

__all__ = ["ConnectionState", "GaveUp", "MetricsClient", "Refused", "main"]

if __name__ == "__main__":
    sys.exit(main(prog="python -m server.client"))
