"""What one socket or event stream still has to send: a few replies, and at most one snapshot.

Shared by every stream (WebSocket and Server-Sent Events, whole snapshots or deltas): the hub
offers each snapshot to every outbox without waiting on any, and each connection's sender takes
what its outbox holds (`next()`), replies first.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from server.wire import DirectWriter

STREAM_KINDS = ("ws", "sse")


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
        "kind",
        "skipped",
    )

    def __init__(
        self,
        max_replies: int,
        direct: DirectWriter | None = None,
        on_push: Callable[[], None] | None = None,
        *,
        kind: str = "ws",
    ) -> None:
        assert kind in STREAM_KINDS, kind
        self.kind = kind  # the wire form the hub offers it: "ws" (WebSocket messages) or "sse" (events)
        self._replies: deque[str] = deque()
        self._max_replies = max_replies
        self._snapshot: Any = None  # what `_render` turns into the frame (here: the frame itself)
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

    @property
    def idle(self) -> bool:
        """Nothing waits to be sent and the sender holds nothing: a push may be written at once."""
        return not self._sending and self._snapshot is None and not self._replies and self._close is None

    def offer_snapshot(self, frame: str, wire: bytes | None = None) -> bool:
        """Offer a push; `wire` is the same push as a whole WebSocket frame, for the direct path.

        True when it was written directly; False when it waits for the socket's sender.
        """
        direct = self._direct
        if (  # `idle`, spelled out: this runs once per socket per push
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

    def drop_snapshot(self) -> None:
        """Forget the snapshot waiting to be sent (a replay takes its place)."""
        self._snapshot = None

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
        waiting, self._snapshot = self._snapshot, None
        assert waiting is not None
        return self._render(waiting)

    def _render(self, waiting: Any) -> str:
        """The frame for what waits in the snapshot slot, built when the sender takes it."""
        return str(waiting)
