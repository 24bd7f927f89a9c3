"""Every stream message in its two wire forms: a WebSocket text message, or a Server-Sent Event.

A WebSocket message is a JSON object with a `type`. The same message as an event has that type as
its `event:` name, and as its `data:` the snapshot for `metrics` (what the socket's message holds
under `data`) and the message itself for the others. Only snapshots and deltas carry an `id:`
(the `snapshotId`), so an event stream's `Last-Event-ID` is always the last snapshot received.
"""

from __future__ import annotations

import json
from typing import Any

from metrics_client.protocol import MessageType
from server.snapshot import Snapshot

SSE_KEEPALIVE = ": keepalive\n\n"  # a comment line: proxies see traffic, EventSource ignores it
SSE_RETRY_MS = 1000  # the reconnection delay an EventSource is told to use (the first backoff step)


def full(snapshot: Snapshot, kind: str) -> str:
    """The whole snapshot (built once per snapshot and kind, then shared)."""
    return snapshot.frame if kind == "ws" else snapshot.event


def delta(target: int, base: int, patch: str, kind: str) -> str:
    """A merge patch (`patch`: its JSON) that turns snapshot `base` into snapshot `target`."""
    body = f'{{"type":"{MessageType.DELTA}","snapshotId":{target},"base":{base},"patch":{patch}}}'
    return body if kind == "ws" else f"id: {target}\nevent: delta\ndata: {body}\n\n"


def control(kind: str, message_type: str, **fields: Any) -> str:
    """A message about the stream itself (`reset`, `resumed`): no id."""
    body = json.dumps({"type": message_type, **fields}, separators=(",", ":"))
    return body if kind == "ws" else f"event: {message_type}\ndata: {body}\n\n"


def sse_preamble() -> str:
    """What an event stream begins with: the reconnection delay."""
    return f"retry: {SSE_RETRY_MS}\n\n"
