"""The tokens in force: `METRICS_TOKENS`, plus `METRICS_TOKENS_FILE` read again when it changes.

A token taken out of the file stops working within seconds, without a restart: requests that
present it are refused, and every socket it opened is closed with 4403. The file is checked every
`CHECK_EVERY` seconds (and at once on SIGHUP). A file that cannot be read or parsed keeps the
tokens in force, and says so once. Once the sidecar asks for tokens it never stops asking: a
tokens file emptied by mistake refuses everyone rather than opening the sidecar.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable

from server.auth import Token, authenticate, parse_tokens
from server.errors import ConfigurationError

log = logging.getLogger("server.auth")

CHECK_EVERY = 2.0  # seconds between two looks at the tokens file

Revoked = Callable[[frozenset[str]], None]  # told the SHA-256 of every token taken away


def _stamp(path: str | None) -> tuple[int, int, int] | None:
    """What changes when the file is replaced or edited: inode, size, modification time."""
    if path is None:
        return None
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


class TokenRegistry:
    def __init__(self, tokens: tuple[Token, ...], file: str | None) -> None:
        self.tokens = tokens
        self.required = bool(tokens)
        self._file = file
        from_file = self._read_file() or ()
        self._inline = tuple(t for t in tokens if t not in from_file)
        self._stamp = _stamp(file)
        self._listeners: list[Revoked] = []
        self._failing = False

    def authenticate(self, presented: str) -> Token | None:
        return authenticate(self.tokens, presented)

    def on_revoked(self, listener: Revoked) -> None:
        self._listeners.append(listener)

    def reload(self) -> bool:
        """Read the tokens file again; True when the tokens in force changed."""
        self._stamp = _stamp(self._file)
        from_file = self._read_file()
        if from_file is None:
            return False
        tokens = (*self._inline, *from_file)
        names = [t.name for t in tokens]
        if len(set(names)) != len(names):
            self._say_failing("token names must be unique across METRICS_TOKENS and the file")
            return False
        if self._failing:
            log.info("the tokens file %s is readable again", self._file)
            self._failing = False
        before = {t.sha256 for t in self.tokens}
        removed = frozenset(before - {t.sha256 for t in tokens})
        if set(tokens) == set(self.tokens):
            return False
        self.tokens = tokens
        self.required = self.required or bool(tokens)
        log.info("tokens reloaded from %s: %d in force, %d taken away", self._file, len(tokens), len(removed))
        if self.required and not tokens:
            log.error("no token is in force: every request and socket is refused until one is added")
        if removed:
            for listener in self._listeners:
                listener(removed)
        return True

    async def watch(self) -> None:
        """Reload whenever the file changes, until cancelled."""
        if self._file is None:
            return
        while True:
            await asyncio.sleep(CHECK_EVERY)
            if _stamp(self._file) != self._stamp:
                self.reload()

    def _read_file(self) -> tuple[Token, ...] | None:
        if self._file is None:
            return ()
        try:
            return parse_tokens(None, self._file)
        except ConfigurationError as exc:
            self._say_failing(str(exc))
            return None

    def _say_failing(self, problem: str) -> None:
        if not self._failing:
            log.error("cannot use the tokens file, keeping the tokens in force: %s", problem)
            self._failing = True


def install_reload_on_sighup(registry: TokenRegistry) -> None:
    """SIGHUP reads the tokens file at once (where this thread may handle signals)."""
    import signal

    # Not in the main thread (tests serve the app from another one), or no signals here: no SIGHUP.
    with contextlib.suppress(RuntimeError, NotImplementedError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, registry.reload)
