"""One live subscription per Streamlit server process, shared by every browser session.

A background thread runs `server.client.MetricsClient`; pages read an immutable `LiveView` of
what it has received. The history is prefilled from the socket's `history` message on every
(re)connect, so the charts are full right after a reload or a reconnect.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from server.client import BACKOFF, ConnectionState, GaveUp, MetricsClient

HISTORY_SIZE = 20
ALERT_LOG_SIZE = 50


@dataclass(frozen=True)
class LiveView:
    """What a page renders: the latest snapshots and the state of the connection."""

    snapshots: tuple[dict[str, Any], ...] = ()  # oldest first, at most 20
    state: ConnectionState = field(default_factory=lambda: ConnectionState("connecting"))
    received_at: float | None = None  # wall-clock time (time.time()) of the latest snapshot
    problem: str | None = None  # the latest malformed message, until a good one arrives
    firing: tuple[dict[str, Any], ...] = ()  # alerts firing now, oldest first
    alert_log: tuple[dict[str, Any], ...] = ()  # transitions seen by this process, newest first

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.snapshots[-1] if self.snapshots else None

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
        idle_timeout: float = 20.0,
    ) -> None:
        self.ws_url = ws_url
        self._token = token
        self._backoff = tuple(backoff)
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._snapshots: deque[dict[str, Any]] = deque(maxlen=HISTORY_SIZE)
        self._state = ConnectionState("connecting")
        self._received_at: float | None = None
        self._problem: str | None = None
        self._firing: dict[str, dict[str, Any]] = {}
        self._alert_log: deque[dict[str, Any]] = deque(maxlen=ALERT_LOG_SIZE)
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
            )

    def start(self) -> None:
        """Run the subscription (again, after it gave up); does nothing while it runs."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._state = ConnectionState("connecting")
            self._thread = threading.Thread(target=self._run, name="metrics-subscription", daemon=True)
            self._thread.start()

    reconnect = start

    def stop(self) -> None:
        self._stopping = True
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(loop)])
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._consume())
        except (GaveUp, asyncio.CancelledError):
            pass
        finally:
            loop.close()
            self._loop = None

    async def _consume(self) -> None:
        client = MetricsClient(
            self.ws_url,
            token=self._token,
            backoff=self._backoff,
            idle_timeout=self._idle_timeout,
            on_state=self._set_state,
        )
        async for message in client.messages(history=True, alerts=True):
            if self._stopping:
                return
            self._accept(message)

    def _set_state(self, state: ConnectionState) -> None:
        with self._lock:
            self._state = state
            if state.status == "live":
                self._firing.clear()  # the sidecar sends what fires now right after connecting

    def _accept(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        with self._lock:
            if kind == "history" and isinstance(message.get("data"), list):
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
            elif kind == "metrics" and _is_snapshot(message.get("data")):
                data = message["data"]
                if not self._snapshots or data["snapshotId"] > self._snapshots[-1]["snapshotId"]:
                    self._snapshots.append(data)
                self._received_at = time.time()
                self._problem = None
            elif kind == "alert" and _is_alert(message.get("data")):
                alert = message["data"]
                if alert["state"] == "firing":
                    if alert["rule"] not in self._firing and alert["id"] not in {a["id"] for a in self._alert_log}:
                        self._alert_log.appendleft(alert)
                    self._firing[alert["rule"]] = alert
                else:
                    self._firing.pop(alert["rule"], None)
                    self._alert_log.appendleft(alert)
            elif kind in ("invalid", "metrics", "history"):
                self._problem = message.get("error") or f"the sidecar sent a malformed {kind} message"


def _is_snapshot(value: Any) -> bool:
    """A snapshot has the contract's sections; anything else is treated as malformed."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("snapshotId"), int)
        and all(isinstance(value.get(k), dict) for k in ("revenue", "activeUsers", "transactions", "content"))
        and isinstance(value.get("timestamp"), str)
    )


def _is_alert(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("id"), int)
        and isinstance(value.get("rule"), str)
        and value.get("state") in ("firing", "resolved")
        and isinstance(value.get("message"), str)
    )
