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
from datetime import UTC, datetime
from itertools import repeat

import anyio

from metrics_client.protocol import MessageType
from server.backends.base import Backend
from server.errors import BackendUnavailable
from server.failures import RepeatingFailures
from server.heap import HeapSettler
from server.snapshot import Snapshot
from server.wire import DirectWriter, text_frame

log = logging.getLogger("server.hub")

_SETTLE_DELAY = 0.05  # seconds after a push before the heap is settled
_HISTORY_START = f'{{"type":"{MessageType.HISTORY}","data":['
STALE_AFTER_INTERVALS = 2  # a snapshot older than this many intervals is served as stale


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
        "_drained",
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
        self._drained = asyncio.Event()  # set when the sender takes a reply
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
        """Queue a reply; False when `max_replies` are already waiting to be sent."""
        if len(self._replies) >= self._max_replies:
            return False
        self._replies.append(frame)
        self._ready.set()
        return True

    async def put_reply(self, frame: str) -> None:
        """Queue a reply, first waiting while `max_replies` are waiting to be sent.

        While it waits, the socket's receiver reads nothing more from the client, so a client
        that sends many requests at once but reads promptly is slowed down, not closed; the
        caller bounds the wait (a client that reads none of its replies).
        """
        while len(self._replies) >= self._max_replies:
            self._drained.clear()
            await self._drained.wait()
        self.offer_reply(frame)

    async def next(self) -> str | CloseRequest:
        self._sending = False
        while not self._replies and self._snapshot is None and self._close is None:
            self._ready.clear()
            await self._ready.wait()
        if self._close is not None:
            return self._close
        self._sending = True
        if self._replies:
            self._drained.set()
            return self._replies.popleft()
        frame, self._snapshot = self._snapshot, None
        assert frame is not None
        return frame


class SnapshotHub:
    """The snapshots this instance serves: the newest, a short history, and how fresh they are.

    A snapshot is fresh while it is at most two intervals old and the instance computing it has
    not said that its refresh failed. Past that, `current()` is the same snapshot (same id, same
    numbers) marked `"stale": true`, and `tick()` pushes that marked copy to every socket once
    an interval until a newer snapshot arrives: a number that may be old is never served as live.

    `on_pushes(n)`, if given, is told after each snapshot how many sockets it was written to directly.
    """

    def __init__(
        self,
        backend: Backend,
        prefix: str,
        history_size: int,
        cache_ttl: float,
        *,
        interval: float = 5.0,
        on_pushes: Callable[[int], None] | None = None,
        on_received: Callable[[str], None] | None = None,
        heap: HeapSettler | None = None,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backend = backend
        self._on_pushes = on_pushes
        self._on_received = on_received
        self._heap = heap or HeapSettler()
        self._channel = f"{prefix}snapshots"
        self.cache_key = f"{prefix}snapshot"
        self.history_key = f"{prefix}history"
        self._cache_ttl = cache_ttl
        self._interval = interval
        self._clock = clock
        self._monotonic = monotonic
        self._history: deque[Snapshot] = deque(maxlen=history_size)
        self._outboxes: set[Outbox] = set()
        self._emptied = asyncio.Event()
        self.latest: Snapshot | None = None
        self._born = 0.0  # when `latest` was computed, on this process's monotonic clock (estimated)
        self._failed_id: int | None = None  # `latest`'s id once its computing instance said a refresh failed
        self._stale_pushed: float | None = None  # when the stale copy of `latest` was last pushed
        self._failures = RepeatingFailures(log, monotonic=monotonic)
        self._outgoing: Snapshot | None = None  # the newest snapshot (or stale mark) not yet sent to the backend
        self._outgoing_ready = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self.backend_ok = True
        self.last_received = monotonic()  # when the backend channel last delivered

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

    # -- freshness ---------------------------------------------------------------------------

    def age(self) -> float | None:
        """Seconds since `latest` was computed (None before any)."""
        return None if self.latest is None else max(0.0, self._monotonic() - self._born)

    def stale_reason(self) -> str | None:
        """Why `latest` may no longer be current, or None while it is fresh."""
        if self.latest is None:
            return "no snapshot has been computed yet"
        if self._failed_id == self.latest.id:
            return "the latest refresh from the database failed"
        age = self.age() or 0.0
        if age > STALE_AFTER_INTERVALS * self._interval:
            return f"the latest snapshot is {age:.0f} s old: none was computed for {age / self._interval:.0f} intervals"
        return None

    def current(self) -> Snapshot | None:
        """`latest` as it must be served now: marked stale once it may no longer be current."""
        if self.latest is None or self.stale_reason() is None:
            return self.latest
        return self.latest.as_stale()

    async def watch(self) -> None:
        """Run `tick()` four times an interval, until cancelled: on its own, so that the numbers
        are marked stale even while the snapshot loop is stuck."""
        while True:
            await asyncio.sleep(self._interval / 4)
            self.tick()

    def tick(self) -> None:
        """While `latest` is stale, push its stale copy to every socket once an interval."""
        if self.latest is None or self.stale_reason() is None:
            return
        now = self._monotonic()
        if self._stale_pushed is not None and now - self._stale_pushed < self._interval:
            return
        self._stale_pushed = now
        self._push(self.latest.as_stale())

    # -- what comes in -----------------------------------------------------------------------

    def history_frame(self) -> str:
        """The `history` reply: the kept snapshots, oldest first, ending with `current()`."""
        kept = list(self._history)
        current = self.current()
        if kept and current is not None and kept[-1].id == current.id:
            kept[-1] = current
        items = ",".join(s.encoded.decode() for s in kept)
        return _HISTORY_START + items + "]}"

    def prefill(self, snapshots: list[Snapshot]) -> None:
        """Load history kept from before this process started (oldest first)."""
        for snapshot in snapshots:
            self._accept(snapshot, self._age_by_timestamp(snapshot), "storage")

    def take_from_storage(self, snapshots: list[Snapshot]) -> None:
        """Deliver snapshots read from the database because the relay was late (oldest first)."""
        for snapshot in snapshots:
            self._deliver(snapshot, self._age_by_timestamp(snapshot), "database")

    async def publish(self, snapshot: Snapshot, age: float = 0.0) -> None:
        """Deliver a snapshot computed here (`age` seconds ago: the time its computation took)
        locally now; caching and publishing it for the other instances goes on in the background
        (`_send`), so a slow or stuck Redis never holds up the snapshot loop."""
        self._deliver(snapshot, age, "computed")
        self._send(snapshot)

    async def publish_failure(self) -> None:
        """The refresh after `latest` failed here: serve it as stale at once, and tell every instance."""
        if self.latest is None:
            return
        self._failed_id = self.latest.id
        self._stale_pushed = None
        self.tick()
        self._send(self.latest.as_stale())

    async def close(self) -> None:
        """Stop the background sender (at shutdown)."""
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None

    def _send(self, snapshot: Snapshot) -> None:
        """Hand `snapshot` to the background sender; if it is still busy with an older one, only the
        newest waits (the others read what they missed from the snapshot log)."""
        self._outgoing = snapshot
        self._outgoing_ready.set()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_all())

    async def _send_all(self) -> None:
        while True:
            await self._outgoing_ready.wait()
            self._outgoing_ready.clear()
            snapshot, self._outgoing = self._outgoing, None
            if snapshot is None:
                continue
            try:
                if not snapshot.stale:  # a stale mark only travels on the channel
                    await self._backend.set_snapshot(self.cache_key, snapshot.encoded, self._cache_ttl)
                    await self._backend.push_history(self.history_key, snapshot.encoded, self._history.maxlen or 20)
                await self._backend.publish(self._channel, snapshot.encoded)
                self._set_backend_ok(True)
            except BackendUnavailable as exc:
                self._set_backend_ok(False, exc)

    async def load_backend_history(self) -> list[Snapshot]:
        try:
            return [Snapshot.from_encoded(item) for item in await self._backend.history(self.history_key)]
        except BackendUnavailable as exc:
            self._set_backend_ok(False, exc)
            return []

    async def listen(self, silence: float | None) -> None:
        """Relay snapshots published by any instance to this instance's sockets, until cancelled.

        Snapshots are published every interval, so a shared channel silent for `silence` seconds
        is dead even if no error said so: the subscription is then made anew. The in-process
        backend's channel reaches this process only (`silence` None): a second sidecar on the same
        SQLite file hears nothing there, and follows through the snapshot log instead.
        """
        self.last_received = self._monotonic()
        while True:
            try:
                messages = aiter(self._backend.subscribe(self._channel))
                while True:
                    with anyio.move_on_after(silence) as quiet:
                        message = await anext(messages)
                    if quiet.cancelled_caught:
                        self._failures.failed(
                            "snapshot relay",
                            f"no snapshot through the cache backend for {silence:.0f} s; subscribing again",
                        )
                        await messages.aclose()  # type: ignore[attr-defined]
                        break
                    self.last_received = self._monotonic()
                    self._failures.recovered("snapshot relay")
                    self._set_backend_ok(True)
                    self._relay(message)
            except StopAsyncIteration:
                return  # the backend disconnected: shutting down
            except BackendUnavailable as exc:
                self._set_backend_ok(False, exc)
                await asyncio.sleep(1.0)

    def relaying(self, silence: float) -> bool:
        """False when the channel has delivered nothing for `silence` seconds."""
        return self._monotonic() - self.last_received <= silence

    def _relay(self, message: bytes) -> None:
        try:
            snapshot = Snapshot.from_encoded(message)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed message on the snapshot channel")
            return
        if snapshot.stale:
            # The computing instance could not refresh after this snapshot.
            fresh = snapshot.as_fresh()
            if self.latest is None or fresh.id > self.latest.id:
                self._failed_id = fresh.id
                self._deliver(fresh, self._age_by_timestamp(fresh), "channel")
            elif self.latest.id == fresh.id and self._failed_id != fresh.id:
                self._failed_id = fresh.id
                self._stale_pushed = None
                self.tick()
            return
        # Published the moment it was computed: its age is the time its computation and the relay
        # took, by the two clocks; a skew between them counts for at most half an interval.
        self._deliver(snapshot, min(self._age_by_timestamp(snapshot), self._interval / 2), "channel")

    def _age_by_timestamp(self, snapshot: Snapshot) -> float:
        computed_at = snapshot.computed_at
        if computed_at is None:
            return 0.0
        return max(0.0, (self._clock() - computed_at).total_seconds())

    def _accept(self, snapshot: Snapshot, age: float, via: str) -> bool:
        if self.latest is not None and snapshot.id <= self.latest.id:
            return False
        self.latest = snapshot
        self._born = self._monotonic() - age
        self._stale_pushed = None
        self._history.append(snapshot)
        if self._on_received is not None:
            self._on_received(via)
        return True

    def _deliver(self, snapshot: Snapshot, age: float, via: str) -> None:
        if not self._accept(snapshot, age, via):
            return
        current = self.current()
        assert current is not None
        if current is not snapshot:  # already stale on arrival (read back from storage, say)
            self._stale_pushed = self._monotonic()
        self._push(current)

    def _push(self, snapshot: Snapshot) -> None:
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
        if ok:
            self._failures.recovered("cache backend")
        else:
            self._failures.failed("cache backend", exc or "unavailable")
        self.backend_ok = ok
