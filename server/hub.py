"""Fan-out: each snapshot is encoded once and offered to every local socket without waiting on any.

Every instance listens on one backend channel; the instance that computes a snapshot also
delivers it locally at once, so a slow or absent Redis never delays local clients. Snapshots
are delivered in `snapshotId` order, each at most once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from itertools import repeat

import anyio

from server.backends.base import Backend
from server.errors import BackendUnavailable
from server.heap import HeapSettler
from server.snapshot import Snapshot
from server.wire import DirectWriter, text_frame

log = logging.getLogger("server.hub")

_SETTLE_DELAY = 0.05  # seconds after a push before the heap is settled


class CloseRequest(int):
    """Handed out by `Outbox.next()` instead of a frame: close the socket with this code."""


class Outbox:
    """What one socket still has to send: a few replies, and at most one snapshot (newest wins).

    With a `direct` writer, a snapshot offered while the socket has nothing else to send and is
    keeping up is written at once as ready-made frame bytes (`offer_snapshot` then answers True and
    `on_push`, if given, is called); otherwise it waits here for the socket's sender, exactly as
    without one.
    """

    __slots__ = (
        "_close",
        "_direct",
        "_max_replies",
        "_on_push",
        "_ready",
        "_replies",
        "_sending",
        "_snapshot",
        "skipped",
    )

    def __init__(
        self, max_replies: int, direct: DirectWriter | None = None, on_push: Callable[[], None] | None = None
    ) -> None:
        self._replies: deque[str] = deque()
        self._max_replies = max_replies
        self._snapshot: str | None = None
        self._close: CloseRequest | None = None
        self._ready = asyncio.Event()
        self._direct = direct
        self._on_push = on_push
        self._sending = False  # the sender holds a frame it took from `next()` and has not written yet
        self.skipped = 0

    def close(self, code: int) -> None:
        """Ask the socket's sender to close with `code` (before anything still queued)."""
        self._close = CloseRequest(code)
        self._ready.set()

    def offer_snapshot(self, frame: str, wire: bytes | None = None) -> bool:
        """Offer a push; `wire` is the same push as a whole WebSocket frame, for the direct path.

        True when it was written directly; False when it waits for the socket's sender.
        """
        direct = self._direct
        if (
            direct is not None
            and wire is not None
            and not self._sending
            and self._snapshot is None
            and not self._replies
            and self._close is None
            and direct.write(wire)
        ):
            if self._on_push is not None:
                self._on_push()
            return True
        if self._snapshot is not None:
            self.skipped += 1
        self._snapshot = frame
        self._ready.set()
        return False

    def offer_reply(self, frame: str) -> bool:
        """Queue a reply; False when the client already has `max_replies` unread (it floods)."""
        if len(self._replies) >= self._max_replies:
            return False
        self._replies.append(frame)
        self._ready.set()
        return True

    async def next(self) -> str | CloseRequest:
        self._sending = False
        while not self._replies and self._snapshot is None and self._close is None:
            self._ready.clear()
            await self._ready.wait()
        if self._close is not None:
            return self._close
        self._sending = True
        if self._replies:
            return self._replies.popleft()
        frame, self._snapshot = self._snapshot, None
        assert frame is not None
        return frame


class SnapshotHub:
    """`on_pushes(n)`, if given, is told after each snapshot how many sockets it was written to directly."""

    def __init__(
        self,
        backend: Backend,
        prefix: str,
        history_size: int,
        cache_ttl: float,
        on_pushes: Callable[[int], None] | None = None,
        heap: HeapSettler | None = None,
    ) -> None:
        self._backend = backend
        self._on_pushes = on_pushes
        self._heap = heap or HeapSettler()
        self._channel = f"{prefix}snapshots"
        self._cache_key = f"{prefix}snapshot"
        self._history_key = f"{prefix}history"
        self._cache_ttl = cache_ttl
        self._history: deque[Snapshot] = deque(maxlen=history_size)
        self._outboxes: set[Outbox] = set()
        self._emptied = asyncio.Event()
        self.latest: Snapshot | None = None
        self.backend_ok = True
        self.last_received = time.monotonic()  # when the backend channel last delivered

    @property
    def clients(self) -> int:
        return len(self._outboxes)

    def attach(self, outbox: Outbox) -> None:
        self._outboxes.add(outbox)

    def detach(self, outbox: Outbox) -> None:
        self._outboxes.discard(outbox)
        if not self._outboxes:
            self._emptied.set()

    async def wait_until_empty(self) -> None:
        while self._outboxes:
            self._emptied.clear()
            await self._emptied.wait()

    def close_all(self, code: int) -> None:
        """Ask every socket to close with `code` (1001 when the sidecar stops)."""
        for outbox in self._outboxes:
            outbox.close(code)

    def history_frame(self) -> str:
        items = ",".join(s.encoded.decode() for s in self._history)
        return '{"type":"history","data":[' + items + "]}"

    def prefill(self, snapshots: list[Snapshot]) -> None:
        """Load history kept from before this process started (oldest first)."""
        for snapshot in snapshots:
            self._accept(snapshot)

    async def publish(self, snapshot: Snapshot) -> None:
        """Deliver locally now, then cache and publish for the other instances."""
        self._deliver(snapshot)
        try:
            await self._backend.set_snapshot(self._cache_key, snapshot.encoded, self._cache_ttl)
            await self._backend.push_history(self._history_key, snapshot.encoded, self._history.maxlen or 20)
            await self._backend.publish(self._channel, snapshot.encoded)
            self._set_backend_ok(True)
        except BackendUnavailable as exc:
            self._set_backend_ok(False, exc)

    async def load_backend_history(self) -> list[Snapshot]:
        try:
            return [Snapshot.from_encoded(item) for item in await self._backend.history(self._history_key)]
        except BackendUnavailable as exc:
            self._set_backend_ok(False, exc)
            return []

    async def listen(self, silence: float) -> None:
        """Relay snapshots published by any instance to this instance's sockets, until cancelled.

        Snapshots are published every interval, so a channel silent for `silence` seconds is
        dead even if no error said so: the subscription is then made anew.
        """
        self.last_received = time.monotonic()
        while True:
            try:
                messages = aiter(self._backend.subscribe(self._channel))
                while True:
                    with anyio.move_on_after(silence) as quiet:
                        message = await anext(messages)
                    if quiet.cancelled_caught:
                        log.warning("no snapshot through the cache backend for %.0f s; subscribing again", silence)
                        await messages.aclose()  # type: ignore[attr-defined]
                        break
                    self.last_received = time.monotonic()
                    self._deliver(Snapshot.from_encoded(message))
            except StopAsyncIteration:
                return  # the backend disconnected: shutting down
            except BackendUnavailable as exc:
                self._set_backend_ok(False, exc)
                await asyncio.sleep(1.0)

    def relaying(self, silence: float) -> bool:
        """False when the channel has delivered nothing for `silence` seconds."""
        return time.monotonic() - self.last_received <= silence

    def _accept(self, snapshot: Snapshot) -> bool:
        if self.latest is not None and snapshot.id <= self.latest.id:
            return False
        self.latest = snapshot
        self._history.append(snapshot)
        return True

    def _deliver(self, snapshot: Snapshot) -> None:
        if not self._accept(snapshot):
            return
        frame = snapshot.frame
        wire = text_frame(frame.encode())  # the same bytes for every socket: built once
        # One C-level pass over the sockets; the direct writes are counted once, not per socket.
        written = sum(map(Outbox.offer_snapshot, self._outboxes, repeat(frame), repeat(wire)))
        if written and self._on_pushes is not None:
            self._on_pushes(written)
        if self._heap.due(len(self._outboxes), time.monotonic()):
            # Right after a push, once the senders of the sockets it could not write to directly
            # have had their turn: the next push is an interval away.
            asyncio.get_running_loop().call_later(_SETTLE_DELAY, self._heap.settle, len(self._outboxes))

    def _set_backend_ok(self, ok: bool, exc: Exception | None = None) -> None:
        if ok and not self.backend_ok:
            log.info("cache backend reachable again")
        elif not ok and self.backend_ok:
            log.error("cache backend unavailable: %s", exc)
        self.backend_ok = ok
