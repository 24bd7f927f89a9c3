"""`python -m server`: the sidecar alone, configured by the environment (see README)."""

from __future__ import annotations

import logging
import sys

from server.app import SidecarServer, create_app, uvicorn_config
from server.errors import ConfigurationError
from server.file_permissions import readable_by_others, warning_for
from server.logs import install_log_filters
from server.settings import Settings

LOG_FORMAT = "%(asctime)s [%(levelname)s] %(message)s"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    install_log_filters()
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    for path, mode in readable_by_others(settings.secret_files):
        logging.getLogger("server").warning(warning_for(path, mode))
    app = create_app(settings)
    SidecarServer(uvicorn_config(settings, app), app).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
