"""Resume: a stream that names the last `snapshotId` it saw gets every snapshot after it, then live ones.

`start_stream` is how every stream (WebSocket or event stream, whole or deltas) begins, and begins
again on a `resume` message:
- without `since`: the current snapshot, then live;
- with `since` N: `resumed`, then N+1, N+2, ... up to the current one, oldest first, then live. The
  stream is paused in the hub (no pushes) while it replays, and joins the live pushes in the same
  step (no await) in which it caught up with the hub's newest snapshot, so no snapshot falls in
  between and none comes twice;
- when what it missed cannot all be replayed: `reset` (why, with the oldest id the log keeps and
  the current one), then the current snapshot, then live. Never a silent gap.

Replay reads the hub's ring in memory first and the snapshot log (24 h) for older ids, in chunks,
through the stream's own bounded outbox: a client that reads slowly slows its own replay only,
and the database sees a few reads at a time, shared by streams that ask for the same range.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine

from metrics_client.protocol import MessageType
from server import frames
from server.deltas import DeltaOutbox
from server.hub import SnapshotHub
from server.observability import SidecarMetrics
from server.outbox import Outbox
from server.snapshot import Snapshot
from server.storage import snapshot_log

REPLAY_LIMIT = 2000  # snapshots one resume may replay (2.8 h at 5 s); further behind gets a reset
CHUNK = 200  # snapshots read from the log at once
DATABASE_READS_AT_ONCE = 2  # resumes must not take the pool the snapshot loop needs
_PARSED = 1000  # snapshots read from the log kept decoded, for the next streams that resume there

# Why a resume became a reset (the `reason` of the reset message).
EXPIRED = "expired"  # the snapshot after `since` is no longer kept
TOO_MANY = "too_many"  # more than REPLAY_LIMIT snapshots were missed
AHEAD = "ahead"  # `since` is newer than the current snapshot: another deployment or database
UNAVAILABLE = "unavailable"  # the log could not be read


class StreamStalled(Exception):
    """The client read nothing for the stall timeout while its replay waited."""


@dataclass(frozen=True)
class Reset:
    reason: str
    since: int
    oldest: int | None  # the oldest snapshotId still kept (None: none is)
    latest: int


class _Gap(Exception):
    """Replay cannot go on after an id: the log no longer keeps what follows, or cannot be read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Replayer:
    """Finds what a resuming stream missed: from the hub's ring, else from the snapshot log."""

    def __init__(
        self, hub: SnapshotHub, engine: AsyncEngine, observability: SidecarMetrics, limit: int = REPLAY_LIMIT
    ) -> None:
        self.hub = hub
        self.engine = engine
        self.observability = observability
        self.limit = limit
        self._reads = asyncio.Semaphore(DATABASE_READS_AT_ONCE)
        self._in_flight: dict[tuple[int, int], asyncio.Future[list[Snapshot]]] = {}
        self._parsed: OrderedDict[int, Snapshot] = OrderedDict()

    async def plan(self, since: int) -> Reset | None:
        """None when every snapshot after `since` can be replayed, else the reset that says why not."""
        latest = self.hub.latest
        if latest is None or since == latest.id:
            return None  # nothing missed (or nothing computed yet: everything comes live)
        if since > latest.id:
            return await self._reset(AHEAD, since, latest.id)
        if latest.id - since > self.limit:
            return await self._reset(TOO_MANY, since, latest.id)
        if self.hub.recent_after(since, 1):
            return None
        try:
            first = await self._read(since, 1)
        except Exception:
            return await self._reset(UNAVAILABLE, since, latest.id)
        if not first or first[0].id != since + 1:
            return await self._reset(EXPIRED, since, latest.id)
        return None

    async def after(self, since: int) -> AsyncIterator[list[Snapshot]]:
        """Chunks of the snapshots after `since`, oldest first, until the hub's newest (read again
        after each chunk, so snapshots that arrive meanwhile are included). Raises `_Gap`.

        After the hub's newest it returns without awaiting anything: the caller joins the live
        pushes in that same step."""
        after = since
        while True:
            latest = self.hub.latest
            if latest is None or latest.id <= after:
                return
            chunk = self.hub.recent_after(after, CHUNK)
            if not chunk:
                try:
                    chunk = await self._read(after, CHUNK)
                except Exception as exc:
                    raise _Gap(UNAVAILABLE) from exc
            if not chunk or chunk[0].id != after + 1 or chunk[-1].id - chunk[0].id != len(chunk) - 1:
                raise _Gap(EXPIRED)
            yield chunk
            after = chunk[-1].id

    async def reset_after_gap(self, reason: str, since: int) -> Reset:
        latest = self.hub.latest
        return await self._reset(reason, since, latest.id if latest is not None else since)

    async def _reset(self, reason: str, since: int, latest: int) -> Reset:
        self.observability.resumes.labels(reason).inc()
        try:
            oldest = await self._read(0, 1)
        except Exception:
            oldest = []  # the ring is what this instance holds, then
        if oldest:
            return Reset(reason, since, oldest[0].id, latest)
        return Reset(reason, since, self.hub.oldest_held(), latest)

    async def _read(self, after: int, limit: int) -> list[Snapshot]:
        """The log's snapshots after `after`; one read serves every stream that asks for the same."""
        key = (after, limit)
        shared = self._in_flight.get(key)
        if shared is None:
            shared = asyncio.ensure_future(self._read_now(after, limit))
            self._in_flight[key] = shared
            shared.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return await asyncio.shield(shared)

    async def _read_now(self, after: int, limit: int) -> list[Snapshot]:
        async with self._reads:
            payloads = await snapshot_log.oldest_after(self.engine, after, limit)
        return [self._decoded(payload) for payload in payloads]

    def _decoded(self, payload: str) -> Snapshot:
        snapshot = Snapshot.from_encoded(payload.encode())
        kept = self._parsed.get(snapshot.id)
        if kept is not None and kept.encoded == snapshot.encoded:
            self._parsed.move_to_end(snapshot.id)
            return kept  # the same object: deltas made against it are shared
        self._parsed[snapshot.id] = snapshot
        if len(self._parsed) > _PARSED:
            self._parsed.popitem(last=False)
        return snapshot


async def start_stream(
    replayer: Replayer, outbox: Outbox, since: int | None, stall_timeout: float, *, registered: bool = False
) -> None:
    """Begin `outbox`'s stream (again, when `registered`): replay after `since` if given, then live.

    Raises `StreamStalled` when the client reads nothing for `stall_timeout` while its replay waits.
    """
    hub = replayer.hub
    if registered:
        hub.pause(outbox)
        outbox.drop_snapshot()  # a push taken before the request would otherwise follow the replay
    else:
        hub.attach(outbox, live=False)
    if isinstance(outbox, DeltaOutbox):
        outbox.restart()  # the first snapshot after a (re)start goes whole
    held: tuple[int, bool] | None = None  # the snapshot the client holds: (id, stale)
    if since is not None:
        reset = await replayer.plan(since)
        if reset is None:
            held = (since, False)
            await _put(outbox, frames.control(outbox.kind, MessageType.RESUMED, since=since), stall_timeout)
            try:
                async for chunk in replayer.after(since):
                    held = await _replay(replayer, outbox, chunk, stall_timeout) or held
            except _Gap as gap:
                reset = await replayer.reset_after_gap(gap.reason, since)
            else:
                replayer.observability.resumes.labels("replayed").inc()
        if reset is not None:
            held = None
            if isinstance(outbox, DeltaOutbox):
                outbox.restart()
            fields = {"since": reset.since, "oldest": reset.oldest, "latest": reset.latest, "reason": reset.reason}
            await _put(outbox, frames.control(outbox.kind, MessageType.RESET, **fields), stall_timeout)
    # No await from here on: whatever the hub takes in next is pushed to this stream too.
    hub.go_live(outbox)
    current = hub.current()
    if current is None or held == (current.id, current.stale):
        return
    # Through the stream's sender (which counts what it writes), not the hub's direct path.
    outbox.offer_snapshot(current if isinstance(outbox, DeltaOutbox) else frames.full(current, outbox.kind))  # type: ignore[arg-type]


async def _replay(replayer: Replayer, outbox: Outbox, chunk: list[Snapshot], stall_timeout: float) -> tuple[int, bool]:
    """Queue one chunk; returns what the client then holds."""
    hub = replayer.hub
    snapshot = chunk[0]
    for snapshot in chunk:
        latest = hub.latest
        if latest is not None and snapshot.id == latest.id:
            snapshot = hub.current() or snapshot  # the newest as it is served now (stale, maybe)
        frame = outbox.take(snapshot) if isinstance(outbox, DeltaOutbox) else frames.full(snapshot, outbox.kind)
        await _put(outbox, frame, stall_timeout)
    replayer.observability.replayed.inc(len(chunk))
    return snapshot.id, snapshot.stale


async def _put(outbox: Outbox, frame: str, stall_timeout: float) -> None:
    with anyio.move_on_after(stall_timeout) as waited:
        await outbox.put_reply(frame)
    if waited.cancelled_caught:
        raise StreamStalled
