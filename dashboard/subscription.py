"""One live subscription per Streamlit server process, shared by every browser session.

A background thread runs the client package's `MetricsClient`; pages read an immutable `LiveView` of
what it has received. The history is prefilled from the socket's `history` message on every
(re)connect, so the charts are full right after a reload or a reconnect, and every reconnect
resumes after the last snapshot held (`?since=`), so a short disconnect leaves no gap: the
snapshots computed meanwhile come in order before the live ones.

After the spec's backoff (1, 2, 4, 8, 16 s) gives up, it tries again on its own every
`retry_every` seconds (a minute by default), so a screen nobody watches recovers once the sidecar
is back; `reconnect()` (the page's button) tries at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dashboard.settings import RETRY_EVERY
from metrics_client import ConnectionState, GaveUp, MetricsClient
from metrics_client.protocol import BACKOFF, MessageType

HISTORY_SIZE = 20
ALERT_LOG_SIZE = 50
# How far two clocks may disagree after the skew measured at connect is taken out (its `Date`
# header has whole seconds).
SKEW_TOLERANCE = 1.0


@dataclass(frozen=True)
class LiveView:
    """What a page renders: the latest snapshots and the state of the connection."""

    snapshots: tuple[dict[str, Any], ...] = ()  # oldest first, at most 20
    state: ConnectionState = field(default_factory=lambda: ConnectionState("connecting"))
    received_at: float | None = None  # wall-clock time (time.time()) of the latest snapshot
    problem: str | None = None  # the latest malformed message, until a good one arrives
    firing: tuple[dict[str, Any], ...] = ()  # alerts firing now, oldest first
    alert_log: tuple[dict[str, Any], ...] = ()  # transitions seen by this process, newest first
    clock_offset: float = 0.0  # the sidecar's clock minus this machine's, measured at the last connect
    state_since: float | None = None  # wall-clock time the connection entered `state`
    top: dict[str, Any] | None = None  # the latest live top content: {"at", "lastFiveMinutes", "today"}

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.snapshots[-1] if self.snapshots else None

    def numbers_age(self, now: float) -> float | None:
        """Seconds since the sidecar computed the latest numbers (its `timestamp`), by the
        sidecar's clock: how old they are, whenever and however they arrived."""
        computed = _timestamp(self.latest)
        return None if computed is None else max(0.0, now + self.clock_offset - computed)

    def fresh(self, now: float, interval: float) -> bool:
        """True when the latest numbers are current: the sidecar does not call them stale and
        they are at most two intervals old (plus what two clocks may still disagree)."""
        age = self.numbers_age(now)
        return (
            self.latest is not None
            and self.latest.get("stale") is not True
            and age is not None
            and age <= 2 * interval + SKEW_TOLERANCE
        )

    @property
    def previous(self) -> dict[str, Any] | None:
        return self.snapshots[-2] if len(self.snapshots) > 1 else None


class LiveSubscription:
    def __init__(
        self,
        ws_url: str,
        *,
        token: str | None = None,
        backoff: Sequence[float] = BACKOFF,
        retry_every: float = RETRY_EVERY,
        idle_timeout: float = 20.0,
    ) -> None:
        self.ws_url = ws_url
        self._token = token
        self._backoff = tuple(backoff)
        self.retry_every = retry_every
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set by reconnect(): stop waiting for the next slow retry
        self._snapshots: deque[dict[str, Any]] = deque(maxlen=HISTORY_SIZE)
        self._state = ConnectionState("connecting")
        self._state_since = time.time()
        self._clock_offset = 0.0
        self._received_at: float | None = None
        self._problem: str | None = None
        self._firing: dict[str, dict[str, Any]] = {}
        self._alert_log: deque[dict[str, Any]] = deque(maxlen=ALERT_LOG_SIZE)
        self._top: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.start()

    def view(self) -> LiveView:
        with self._lock:
            return LiveView(
                tuple(self._snapshots),
                self._state,
                self._received_at,
                self._problem,
                tuple(self._firing.values()),
                tuple(self._alert_log),
                self._clock_offset,
                self._state_since,
                top=self._top,
            )

    def start(self) -> None:
        """Run the subscription; while it waits for its next slow retry, try at once instead."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._wake.set()
                return
            self._stopping = False
            self._wake.clear()
            self._state, self._state_since = ConnectionState("connecting"), time.time()
            self._thread = threading.Thread(target=self._run, name="metrics-subscription", daemon=True)
            self._thread.start()

    reconnect = start

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(loop)])
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._consume())
            except GaveUp:
                pass
            except asyncio.CancelledError:
                return
            finally:
                loop.close()
                self._loop = None
            if self._stopping:
                return
            # Gave up: say when the next try comes, then wait for it (or for Reconnect).
            with self._lock:
                self._state = replace(self._state, status="gave_up", retry_in=self.retry_every)
                self._state_since = time.time()
            self._wake.wait(timeout=self.retry_every)
            self._wake.clear()

    async def _consume(self) -> None:
        with self._lock:
            # After giving up, a new client starts where the last one left off.
            since = self._snapshots[-1]["snapshotId"] if self._snapshots else None
        client = MetricsClient(
            with_top(self.ws_url),
            token=self._token,
            backoff=self._backoff,
            idle_timeout=self._idle_timeout,
            on_state=self._set_state,
            since=since,
        )
        async for message in client.messages(history=True, alerts=True):
            if self._stopping:
                return
            self._accept(message)

    def _set_state(self, state: ConnectionState) -> None:
        with self._lock:
            self._state, self._state_since = state, time.time()
            if state.status == "live":
                self._firing.clear()  # the sidecar sends what fires now right after connecting
                if state.clock_offset is not None:
                    self._clock_offset = state.clock_offset

    def _accept(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        with self._lock:
            if kind == MessageType.HISTORY and isinstance(message.get("data"), list):
                snapshots = [s for s in message["data"] if _is_snapshot(s)]
                if snapshots and self._snapshots and snapshots[-1]["snapshotId"] < self._snapshots[-1]["snapshotId"]:
                    self._snapshots.clear()  # a sidecar that starts over (a new database): its ids restart
                known = {s["snapshotId"] for s in self._snapshots}
                merged = sorted(
                    [*self._snapshots, *(s for s in snapshots if s["snapshotId"] not in known)],
                    key=lambda s: s["snapshotId"],
                )
                self._snapshots = deque(merged[-HISTORY_SIZE:], maxlen=HISTORY_SIZE)
                if snapshots:
                    self._received_at = time.time()
                self._problem = None
            elif kind == MessageType.METRICS and _is_snapshot(message.get("data")):
                data = message["data"]
                if not self._snapshots or data["snapshotId"] > self._snapshots[-1]["snapshotId"]:
                    self._snapshots.append(data)
                self._received_at = time.time()
                self._problem = None
            elif kind == MessageType.RESET and message.get("reason") == "ahead":
                # The sidecar's ids are behind ours: another database, whose ids started over.
                self._snapshots.clear()
            elif kind == MessageType.TOP and _is_top(message.get("data")):
                self._top = message["data"]
            elif kind == MessageType.ALERT and _is_alert(message.get("data")):
                alert = message["data"]
                if alert["state"] == "firing":
                    if alert["rule"] not in self._firing and alert["id"] not in {a["id"] for a in self._alert_log}:
                        self._alert_log.appendleft(alert)
                    self._firing[alert["rule"]] = alert
                else:
                    self._firing.pop(alert["rule"], None)
                    self._alert_log.appendleft(alert)
            elif kind in ("invalid", MessageType.METRICS, MessageType.HISTORY):
                self._problem = message.get("error") or f"the sidecar sent a malformed {kind} message"


def _is_snapshot(value: Any) -> bool:
    """A snapshot has the contract's sections; anything else is treated as malformed."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("snapshotId"), int)
        and all(isinstance(value.get(k), dict) for k in ("revenue", "activeUsers", "transactions", "content"))
        and isinstance(value.get("timestamp"), str)
    )


def with_top(ws_url: str) -> str:
    """The socket's address asking for the live top content too (`?top=1`), so that every
    (re)connect subscribes to it."""
    parts = urlsplit(ws_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "top"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("top", "1")])))


def _is_top(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(value.get(window), dict)
        and isinstance(value[window].get("content"), list)
        and isinstance(value[window].get("categories"), list)
        for window in ("lastFiveMinutes", "today")
    )


def _is_alert(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("id"), int)
        and isinstance(value.get("rule"), str)
        and value.get("state") in ("firing", "resolved")
        and isinstance(value.get("message"), str)
    )


def _timestamp(snapshot: dict[str, Any] | None) -> float | None:
    """A snapshot's `timestamp` as seconds since the epoch, or None."""
    raw = snapshot.get("timestamp") if snapshot is not None else None
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
