"""What the sidecar's log lines may hold: no tokens, and no tracebacks for what a client did wrong."""

from __future__ import annotations

import logging
import re

# uvicorn logs these with a traceback, though the client caused them and was answered (a frame
# that is not UTF-8 gets close code 1007): one line at WARNING says enough.
_CLIENT_ERRORS = frozenset({"Invalid UTF-8 sequence received from client."})


class RedactTokens(logging.Filter):
    """Masks `token=...` (a WebSocket query parameter) in log lines, e.g. uvicorn's request lines."""

    _PATTERN = re.compile(r"(token=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._PATTERN.sub(r"\1***", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._PATTERN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


class QuietClientErrors(logging.Filter):
    """Turns uvicorn's traceback for a client's mistake into one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in _CLIENT_ERRORS and record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def install_log_filters() -> None:
    for name, kinds in (
        ("uvicorn.error", (RedactTokens, QuietClientErrors)),
        ("uvicorn.access", (RedactTokens,)),
        ("server", (RedactTokens,)),
    ):
        logger = logging.getLogger(name)
        for kind in kinds:
            if not any(isinstance(f, kind) for f in logger.filters):
                logger.addFilter(kind())
