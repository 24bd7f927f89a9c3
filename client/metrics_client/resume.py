"""Where a subscription stands: the last snapshot it handed out, so that a reconnect resumes there.

The sidecar replays what a client missed when it connects with `?since=<last snapshotId>`; with
`?deltas=1` it sends merge patches against the snapshot the client received last. `StreamPosition`
turns the sidecar's messages into whole snapshots in id order: it drops ids it already handed out
(a replay can overlap a frame already on its way), applies patches, and says when a patch does not
follow what it holds, so the caller reconnects with `since` instead of handing out a wrong snapshot.

A client that reads too slowly is sent only the newest snapshot (the sidecar keeps one pending
push per client), so ids can jump on an open connection too. Then `resume_from` says to send
`{"type": "resume", "since": ...}` on it: what comes before the sidecar's `resumed` is dropped
(the replay brings it again, in order).
"""

from __future__ import annotations

from typing import Any

from metrics_client.protocol import MessageType


class OutOfStep(Exception):
    """A delta's `base` is not the snapshot held: reconnect with `since` to get what was missed."""


def apply_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch (RFC 7386, section 2) without changing `target` (the result shares
    unchanged parts with it); `null` removes a member. The sidecar checks its patches with it too."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = apply_patch(result.get(name), value)
    return result


class StreamPosition:
    """The last snapshot handed out, and what to do with each message that comes next."""

    def __init__(self, since: int | None = None) -> None:
        self.last_id: int | None = since  # the `since` of the next connect
        self.held: dict[str, Any] | None = None  # the whole last snapshot, the base of the next delta
        self.patches_applied = 0  # deltas turned into whole snapshots, for a caller that wants to know
        self.resume_from: int | None = None  # set when a gap was seen: send a resume with this `since`
        self._awaiting_resumed = False
        # After a resume (or a fresh connect) the next id is taken as it comes, so a sidecar whose ids
        # do jump cannot make the client ask again and again.
        self._take_next = True

    def connected(self) -> None:
        """A new connection: a `resumed` or `reset` comes first when it was made with `since`."""
        self._awaiting_resumed = False
        self.resume_from = None
        self._take_next = True

    def accept(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The message to hand out for `message` (deltas become whole `metrics`), or None to drop it.

        Raises `OutOfStep` for a delta that does not apply to the snapshot held.
        """
        kind = message.get("type")
        if kind == MessageType.RESUMED:
            self._awaiting_resumed = False
            self._take_next = True
            return message
        if kind == MessageType.RESET:
            self._awaiting_resumed = False
            self._take_next = True
            # What follows is the current snapshot, whatever its id: with reason "ahead" (another
            # database) it is lower than the last one, and must not be dropped as a repeat.
            self.last_id = None
            self.held = None
            return message
        if self._awaiting_resumed and kind in (MessageType.DELTA, MessageType.METRICS):
            return None  # on its way before the resume was read: the replay brings it again
        if kind == MessageType.DELTA:
            return self._snapshot(self._patched(message))
        if kind == MessageType.METRICS and isinstance(message.get("data"), dict):
            return self._snapshot(message["data"])
        return message

    def _patched(self, message: dict[str, Any]) -> dict[str, Any]:
        base, held = message.get("base"), self.held
        if held is None or base != held.get("snapshotId") or not isinstance(message.get("patch"), dict):
            raise OutOfStep(f"a delta on snapshot {base} came while holding {held and held.get('snapshotId')}")
        patched = apply_patch(held, message["patch"])
        self.patches_applied += 1
        if patched.get("snapshotId") != message.get("snapshotId"):
            raise OutOfStep(f"a delta said snapshot {message.get('snapshotId')} but made {patched.get('snapshotId')}")
        return dict(patched)

    def _snapshot(self, data: dict[str, Any]) -> dict[str, Any] | None:
        snapshot_id = data.get("snapshotId")
        if not isinstance(snapshot_id, int):
            return {"type": MessageType.METRICS, "data": data}  # malformed: the caller says so
        if self.last_id is not None:
            repeat = snapshot_id == self.last_id and data.get("stale") is True
            if snapshot_id < self.last_id or (snapshot_id == self.last_id and not repeat):
                return None  # already handed out (a replay overlapping a frame in flight)
            if snapshot_id > self.last_id + 1 and not self._take_next:
                # The sidecar skipped snapshots for this slow reader: ask for them, drop this one.
                self.resume_from = self.last_id
                self._awaiting_resumed = True
                self.held = None  # a whole snapshot follows a resume, and deltas build on it
                return None
        self._take_next = False
        self.last_id = snapshot_id
        self.held = data
        return {"type": MessageType.METRICS, "data": data}
