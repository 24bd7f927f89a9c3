"""When Python's full garbage collection runs, on a sidecar holding thousands of sockets.

Each socket keeps a few hundred long-lived objects, so 10,000 sockets make a heap of ~2 M objects,
and the full collection Python starts on its own walks all of them: ~0.8 s during which no push
goes out, at a moment nobody chose (bench/fanout.py saw one push in 60 held up that long).

`HeapSettler` instead runs that collection right after a push, when the next one is an interval
away, and then freezes what survived (`gc.freeze`): the collections Python starts on its own skip
frozen objects, so they stay short. It settles again when the number of sockets has changed by a
quarter since the last time, and at least every `period` seconds: a socket closed since then is
garbage the frozen generation holds until the next settling, so that bounds what it keeps.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("server.heap")


class HeapSettler:
    def __init__(self, period: float = 300.0, change: float = 0.25, min_sockets: int = 500) -> None:
        self._period = period
        self._change = change
        self._min_sockets = min_sockets  # below this a full collection is short anyway
        self._sockets = 0  # at the last settling
        self._settled_at = time.monotonic()

    def due(self, sockets: int, now: float) -> bool:
        if max(sockets, self._sockets) < self._min_sockets:
            return False
        changed = abs(sockets - self._sockets) >= self._change * max(self._sockets, 1)
        return changed or now - self._settled_at >= self._period

    def settle(self, sockets: int) -> None:
        """Collect everything now (frozen objects included), then freeze what is left."""
        started = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._sockets, self._settled_at = sockets, time.monotonic()
        log.info(
            "heap settled: %d sockets, %d objects frozen, %.0f ms",
            sockets,
            gc.get_freeze_count(),
            1000 * (time.perf_counter() - started),
        )
