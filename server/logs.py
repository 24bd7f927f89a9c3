"""What the sidecar's log lines may hold: no tokens, and no tracebacks for what a client did wrong."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

# uvicorn logs these with a traceback, though the client caused them and was answered (a frame
# that is not UTF-8 gets close code 1007): one line at WARNING says enough.
_CLIENT_ERRORS = frozenset({"Invalid UTF-8 sequence received from client."})


_QUERY_PAIR = re.compile(r"([?&;])([^&;\s\"'#]+)")
_SECRET_KEYS = frozenset({"token", "access_token"})


def redact(text: str) -> str:
    """`text` with the value of every `token=` query parameter replaced by `***`, however it is
    written: `%74oken=`, `TOKEN=` are the same parameter to the server, and a pair whose `=` is
    itself encoded (`token%3D...`, even twice) is a token sent by mistake, masked whole."""

    def mask(match: re.Match[str]) -> str:
        separator, pair = match.groups()
        key, equals, _ = pair.partition("=")
        if equals and unquote_plus(key).lower() in _SECRET_KEYS:
            return f"{separator}{key}=***"
        decoded = pair
        for _ in range(3):  # encoded once, twice, three times
            decoded = unquote_plus(decoded)
            name, equals, _ = decoded.partition("=")
            if equals and name.lower() in _SECRET_KEYS:
                return f"{separator}***"
        return match.group(0)

    return _QUERY_PAIR.sub(mask, text)


class RedactTokens(logging.Filter):
    """At a handler: formats the record's message (its own `%` arguments included), masks tokens in
    the result, and keeps that as the message. On a handler it sees every record the handler
    writes, whichever logger it came from (a filter on a logger misses its children's records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed record is logging's own business to report
        masked = redact(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


class QuietClientErrors(logging.Filter):
    """Turns uvicorn's traceback for a client's mistake into one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in _CLIENT_ERRORS and record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def install_log_filters() -> None:
    """Mask tokens at every handler of the root logger (where uvicorn's and ours end up), and quiet
    uvicorn's tracebacks for clients' mistakes."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactTokens) for f in handler.filters):
            handler.addFilter(RedactTokens())
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietClientErrors) for f in uvicorn_errors.filters):
        uvicorn_errors.addFilter(QuietClientErrors())
