"""`python -m server.simulate`: an alias of `python -m tools.simulate`, kept because the contract
names it. The simulator is not part of the sidecar; it lives in `tools/simulate/`."""

from __future__ import annotations

import sys

from tools.simulate.cli import main

if __name__ == "__main__":
    sys.exit(main())
