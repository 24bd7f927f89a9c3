"""`python -m server.demo`: an alias of `python -m tools.demo`, kept for scripts that name it.
Demo history is not part of the sidecar; it lives in `tools/demo.py`."""

from __future__ import annotations

import sys

from tools.demo import main

if __name__ == "__main__":
    sys.exit(main())
