"""A failure that repeats is said once, counted, reminded of now and then, and said to be over.

The snapshot loop, the lease and the relay retry every interval; logging each attempt would bury
the one line that matters under thousands of copies of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

REMIND_EVERY = 600.0  # seconds between reminders of a failure that goes on


@dataclass
class _Ongoing:
    text: str
    count: int
    since: float
    reminded: float


def brief(exc: BaseException) -> str:
    """The error's kind and the driver's first line: no SQL, no parameters, no traceback."""
    cause = getattr(exc, "orig", None) or exc
    message = str(cause).strip()
    first_line = message.splitlines()[0] if message else ""
    return f"{type(cause).__name__}: {first_line}"[:200] if first_line else type(cause).__name__


class RepeatingFailures:
    """One log line when a job starts failing (or fails differently), a reminder with the count
    every `remind_every` seconds while it goes on, and one line when it works again."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        remind_every: float = REMIND_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._remind_every = remind_every
        self._monotonic = monotonic
        self._ongoing: dict[str, _Ongoing] = {}  # one entry per job name: a handful, by construction

    def failing(self, job: str) -> bool:
        return job in self._ongoing

    def failed(self, job: str, exc: BaseException | str, *, expected: bool = True) -> None:
        """`job` failed with `exc` (or a description); `expected` failures (a database or Redis
        away) get no traceback."""
        now = self._monotonic()
        text = brief(exc) if isinstance(exc, BaseException) else exc
        ongoing = self._ongoing.get(job)
        if ongoing is None or ongoing.text != text:
            self._ongoing[job] = _Ongoing(text, 1, now, now)
            self._log.error(
                "%s failed: %s (said once; a reminder follows every %.0f min while it goes on)",
                job,
                text,
                self._remind_every / 60,
                exc_info=None if expected or not isinstance(exc, BaseException) else exc,
            )
            return
        ongoing.count += 1
        if now - ongoing.reminded >= self._remind_every:
            ongoing.reminded = now
            self._log.error(
                "%s still failing: %d times in %.0f s (%s)", job, ongoing.count, now - ongoing.since, ongoing.text
            )

    def recovered(self, job: str) -> None:
        ongoing = self._ongoing.pop(job, None)
        if ongoing is not None:
            self._log.info(
                "%s works again after %d failure%s over %.0f s",
                job,
                ongoing.count,
                "" if ongoing.count == 1 else "s",
                self._monotonic() - ongoing.since,
            )
