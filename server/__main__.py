"""`python -m server`: the sidecar alone, configured by the environment (see README)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from server.app import uvicorn_config
from server.errors import ConfigurationError
from server.settings import Settings

LOG_FORMAT = "%(asctime)s [%(levelname)s] %(message)s"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    uvicorn.Server(uvicorn_config(settings)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
