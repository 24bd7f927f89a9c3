"""Fan-out: each snapshot is encoded once and offered to every local socket without waiting on any.

Every instance listens on one backend channel; the instance that computes a snapshot also
delivers it locally at once, so a slow or absent Redis never delays local clients. Snapshots
are delivered in `snapshotId` order, each at most once.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import repeat

import anyio

from metrics_client.protocol import MessageType
from server.backends.base import Backend
from server.deltas import DeltaOutbox
from server.errors import BackendUnavailable
from server.failures import RepeatingFailures
from server.heap import HeapSettler
from server.outbox import CloseRequest, Outbox
from server.snapshot import Snapshot

__all__ = ["CloseRequest", "Outbox", "SnapshotHub"]  # the outbox lived here first; importers still find it

log = logging.getLogger("server.hub")

_SETTLE_DELAY = 0.05  # seconds after a push before the heap is settled
_HISTORY_START = f'{{"type":"{MessageType.HISTORY}","data":['
STALE_AFTER_INTERVALS = 2  # a snapshot older than this many intervals is served as stale
RING_SIZE = 720  # snapshots kept in memory for resumes (an hour at 5 s); older ones come from the log


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _snapshot_id(snapshot: Snapshot) -> int:
    return snapshot.id


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
        ring_size: int = RING_SIZE,
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
        self._history_size = history_size
        # The newest snapshots, oldest first: the `history` reply's last few, and resumes.
        self._history: deque[Snapshot] = deque(maxlen=max(history_size, ring_size))
        # Streams that get every push, by how it is offered: whole WebSocket messages (with the frame
        # bytes, for the direct path), whole events, deltas; and streams paused while they replay.
        self._outboxes: set[Outbox] = set()
        self._events: set[Outbox] = set()
        self._deltas: set[DeltaOutbox] = set()
        self._paused: set[Outbox] = set()
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
        return len(self._outboxes) + len(self._events) + len(self._deltas) + len(self._paused)

    def attach(self, outbox: Outbox, *, live: bool = True) -> None:
        """Register a stream: it gets every push from now on, or (`live=False`) once `go_live` says so."""
        if live:
            self.go_live(outbox)
        else:
            self._paused.add(outbox)

    def go_live(self, outbox: Outbox) -> None:
        self._paused.discard(outbox)
        if isinstance(outbox, DeltaOutbox):
            self._deltas.add(outbox)
        elif outbox.kind == "sse":
            self._events.add(outbox)
        else:
            self._outboxes.add(outbox)

    def pause(self, outbox: Outbox) -> None:
        """Stop pushing to a registered stream (while it replays); it still counts and is closed with the rest."""
        self._drop(outbox)
        self._paused.add(outbox)

    def detach(self, outbox: Outbox) -> None:
        self._drop(outbox)
        if not self.clients:
            self._emptied.set()

    def _drop(self, outbox: Outbox) -> None:
        self._outboxes.discard(outbox)
        self._events.discard(outbox)
        self._deltas.discard(outbox)
        self._paused.discard(outbox)

    async def wait_until_empty(self) -> None:
        while self.clients:
            self._emptied.clear()
            await self._emptied.wait()

    def close_all(self, code: int) -> None:
        """Ask every stream to close with `code` (1001 when the sidecar stops; an event stream just ends)."""
        for group in (self._outboxes, self._events, self._deltas, self._paused):
            for outbox in group:
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
        kept = list(self._history)[-self._history_size :]
        current = self.current()
        if kept and current is not None and kept[-1].id == current.id:
            kept[-1] = current
        items = ",".join(s.encoded.decode() for s in kept)
        return _HISTORY_START + items + "]}"

    def recent_after(self, since: int, limit: int) -> list[Snapshot]:
        """Up to `limit` kept snapshots with ids `since + 1, since + 2, ...` with no id missing, oldest
        first, as computed (fresh); empty when this instance does not hold `since + 1` in memory."""
        history = self._history
        start = bisect.bisect_right(history, since, key=_snapshot_id)  # ids only increase along the ring
        found: list[Snapshot] = []
        # A follower that missed some has gaps in its ring: stop at the first.
        for snapshot in itertools.islice(history, start, start + limit):
            if snapshot.id != since + 1 + len(found):
                break
            found.append(snapshot)
        return found

    def oldest_held(self) -> int | None:
        """The oldest snapshotId in the ring (None before any)."""
        return self._history[0].id if self._history else None

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
                    await self._backend.push_history(self.history_key, snapshot.encoded, self._history_size)
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
        wire = snapshot.wire  # the same bytes for every socket: built once
        # One C-level pass over the sockets; the direct writes are counted once, not per socket.
        written = sum(map(Outbox.offer_snapshot, self._outboxes, repeat(frame), repeat(wire)))
        if self._events:
            sum(map(Outbox.offer_snapshot, self._events, repeat(snapshot.event)))
        if self._deltas:
            written += sum(map(DeltaOutbox.offer, self._deltas, repeat(snapshot)))
        if written and self._on_pushes is not None:
            self._on_pushes(written)
        if self._heap.due(self.clients, time.monotonic()):
            # Right after a push, once the senders of the sockets it could not write to directly
            # have had their turn: the next push is an interval away.
            asyncio.get_running_loop().call_later(_SETTLE_DELAY, self._heap.settle, self.clients)

    def _set_backend_ok(self, ok: bool, exc: Exception | None = None) -> None:
        if ok:
            self._failures.recovered("cache backend")
        else:
            self._failures.failed("cache backend", exc or "unavailable")
        self.backend_ok = ok
