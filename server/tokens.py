"""`python -m server.tokens`: an alias of `python -m tools.tokens`, kept for scripts that name it.
The token maker is not part of the sidecar; it lives in `tools/tokens.py`."""

from __future__ import annotations

import sys

from tools.tokens import main

if __name__ == "__main__":
    sys.exit(main())
