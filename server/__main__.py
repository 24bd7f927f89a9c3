"""`python -m server`: the sidecar alone, configured by the environment (see README)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from server.app import create_app
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
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_frame_bytes,  # larger frames: close 1009 before they are buffered
        ws_ping_interval=20.0,  # dead peers: no pong within 20 s and the connection is dropped
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=10,
        log_config=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
