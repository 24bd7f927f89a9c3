"""Deltas (opt-in): after one whole snapshot, each push is a merge patch against the one before.

A client that asks for deltas (`?deltas=1`) gets a whole snapshot first, then
`{"type": "delta", "snapshotId": N, "base": M, "patch": {...}}` (RFC 7386) against the snapshot it
received last, and a whole one again every `FULL_EVERY` pushes, after a resume or a reset, and
whenever no merge patch rebuilds the new snapshot exactly (a value that becomes null).

Clients that keep up all hold the same previous snapshot, so a delta is made and encoded once per
(previous, next) pair and shared (`DeltaCache`); a client that fell behind gets the delta from the
snapshot it actually has, made when its sender takes it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from server import frames
from server.merge_patch import create_patch
from server.metrics import encode
from server.outbox import Outbox
from server.snapshot import Snapshot
from server.wire import DirectWriter, text_frame

FULL_EVERY = 60  # pushes between two whole snapshots on a delta stream
CACHE_SIZE = 256  # (previous, next) pairs kept encoded

# A snapshot's identity on a stream: its id, and whether it was the stale copy.
_Key = tuple[int, bool, int, bool]


class _Delta:
    __slots__ = ("frames", "patch", "wire")

    def __init__(self, patch: str | None) -> None:
        self.patch = patch  # the merge patch's JSON; None: no patch rebuilds it exactly
        self.frames: dict[str, str] = {}
        self.wire: bytes | None = None


class DeltaCache:
    """Delta frames by (previous, next) snapshot, each made once; a bounded LRU."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[_Key, _Delta] = OrderedDict()
        self.made = 0  # patches computed (the rest were shared)

    def frame(self, base: Snapshot, target: Snapshot, kind: str) -> tuple[str, bytes | None] | None:
        """The delta from `base` to `target` and, for a WebSocket, its frame bytes; None when it
        must go whole."""
        key = (base.id, base.stale, target.id, target.stale)
        entry = self._entries.get(key)
        if entry is None:
            patch = create_patch(base.data, target.data)
            entry = _Delta(None if patch is None else encode(patch).decode())
            self.made += 1
            self._entries[key] = entry
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        if entry.patch is None:
            return None
        text = entry.frames.get(kind)
        if text is None:
            text = entry.frames[kind] = frames.delta(target.id, base.id, entry.patch, kind)
        if kind != "ws":
            return text, None
        if entry.wire is None:
            entry.wire = text_frame(text.encode())
        return text, entry.wire


class DeltaOutbox(Outbox):
    """An outbox whose snapshots go out as deltas against the last one this client was sent."""

    __slots__ = ("_cache", "_since_full", "sent")

    def __init__(
        self,
        max_replies: int,
        cache: DeltaCache,
        direct: DirectWriter | None = None,
        on_push: Callable[[], None] | None = None,
        *,
        kind: str = "ws",
    ) -> None:
        super().__init__(max_replies, direct, on_push, kind=kind)
        self._cache = cache
        self.sent: Snapshot | None = None  # the snapshot this client holds (its next delta's base)
        self._since_full = 0

    def restart(self) -> None:
        """The next snapshot goes whole (after a resume or a reset)."""
        self.sent = None

    def offer(self, snapshot: Snapshot) -> bool:
        """The hub's push: written at once when the client keeps up (True), else it waits, newest wins."""
        if self._direct is not None and self.idle:
            _, wire, is_delta = self._frame(snapshot)
            if wire is not None and self._direct.write(wire):
                self._record(snapshot, is_delta)
                if self._on_push is not None:
                    self._on_push()
                return True
        return self.offer_snapshot(snapshot)  # type: ignore[arg-type]

    def take(self, snapshot: Snapshot) -> str:
        """The frame that sends `snapshot` now (whole or as a delta), counted as sent."""
        text, _, is_delta = self._frame(snapshot)
        self._record(snapshot, is_delta)
        return text

    def _render(self, waiting: object) -> str:
        assert isinstance(waiting, Snapshot)
        return self.take(waiting)

    def _frame(self, snapshot: Snapshot) -> tuple[str, bytes | None, bool]:
        """The frame for `snapshot`, its WebSocket bytes, and whether it is a delta."""
        base = self.sent
        if base is not None and self._since_full < FULL_EVERY - 1:
            made = self._cache.frame(base, snapshot, self.kind)
            if made is not None:
                return made[0], made[1], True
        return frames.full(snapshot, self.kind), snapshot.wire if self.kind == "ws" else None, False

    def _record(self, snapshot: Snapshot, is_delta: bool) -> None:
        self.sent = snapshot
        self._since_full = self._since_full + 1 if is_delta else 0
