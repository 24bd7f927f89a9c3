"""The live subscription: `/ws/metrics` across reconnections, as snapshots or alert transitions.

    async for snapshot in MetricsClient("ws://localhost:3000/ws/metrics").snapshots():
        print(snapshot["revenue"]["today"])

It reconnects by itself with the spec's backoff (1, 2, 4, 8, 16 s) and gives up after five
failed attempts in a row (`GaveUp`); a refused token ends it at once (`Refused`). Each reconnect
asks for what was missed (`?since=<the last snapshotId handed out>`), so no snapshot is skipped;
when the sidecar no longer keeps them it says so with a `reset`, which reaches `on_reset`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from metrics_client.protocol import BACKOFF, REFUSAL_CLOSE_CODES, REFUSAL_HTTP_STATUSES, MessageType
from metrics_client.resume import OutOfStep, StreamPosition
from metrics_client.sync import iterate

_HISTORY_REQUEST = json.dumps({"type": MessageType.HISTORY})
_ALERTS_REQUEST = json.dumps({"type": MessageType.SUBSCRIBE, "alerts": True})

_log = logging.getLogger("metrics_client")

Status = Literal["connecting", "live", "retrying", "gave_up"]


class GaveUp(Exception):
    """Every reconnection attempt of the backoff failed; call again to start over."""


class Refused(GaveUp):
    """The sidecar refused the credentials (HTTP 401 / 403): retrying would not help."""


@dataclass(frozen=True)
class ConnectionState:
    status: Status
    attempt: int = 0  # failed attempts in a row
    error: str | None = None
    retry_in: float | None = None
    # With "live": the sidecar's clock minus this machine's (seconds, within about one), read
    # from the handshake's `Date` header; None when the sidecar sent none.
    clock_offset: float | None = None


class MetricsClient:
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        backoff: Sequence[float] = BACKOFF,
        idle_timeout: float = 20.0,
        open_timeout: float = 5.0,
        on_state: Callable[[ConnectionState], None] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        since: int | None = None,
        deltas: bool = False,
        on_reset: Callable[[dict[str, Any]], None] | None = None,
        exact: bool = False,
    ) -> None:
        """`since`: the last snapshotId already seen, so that even the first connect replays what
        came after it. `deltas`: ask for merge patches (smaller pushes) and apply them, so that
        whole snapshots still come out. `on_reset` is called with the sidecar's `reset` message
        when what was missed is no longer kept (without it, `snapshots()` logs a warning).
        `exact`: numbers with a fraction come as `Decimal` (money to the cent), not float.
        """
        if since is not None and (type(since) is not int or since < 0):
            raise ValueError(f"since must be a snapshotId (an integer >= 0), got {since!r}")
        self.url = url
        self.deltas = deltas
        self.exact = exact
        self._position = StreamPosition(since)
        self._on_reset = on_reset
        self.token = token
        self.backoff = tuple(backoff)
        # No message for this long (the sidecar pushes every few seconds) means a dead connection.
        self.idle_timeout = idle_timeout
        self.open_timeout = open_timeout
        self._on_state = on_state or (lambda state: None)
        self._sleep = sleep

    @property
    def patches_applied(self) -> int:
        """How many deltas were applied (with `deltas=True`): 0 means every push came whole."""
        return self._position.patches_applied

    @property
    def last_snapshot_id(self) -> int | None:
        """The id of the last snapshot handed out (or the `since` given): where a reconnect resumes."""
        return self._position.last_id

    async def messages(self, *, history: bool = True, alerts: bool = False) -> AsyncIterator[dict[str, Any]]:
        """Every message, across reconnections; after each connect the first is `history`.

        With `alerts`, the socket also asks for alert transitions (`{"type": "alert", ...}`);
        the alerts firing at that moment come first.

        A message that is not JSON, or has no type, is yielded as `{"type": "invalid", "error": ...}`
        so that the caller can say so instead of failing.

        Snapshots come as `metrics` messages in id order, deltas already applied, each id once
        (again only as its stale copy, `"stale": true`). A `reset` message is yielded as it came:
        the snapshots after the last one were not all kept, and the current one comes next.
        """
        failures = 0
        while True:
            self._on_state(ConnectionState("connecting", failures))
            try:
                opened = time.time()
                async with self._connect() as ws:
                    failures = 0
                    offset = clock_offset(ws.response.headers.get("date") if ws.response else None, opened, time.time())
                    self._on_state(ConnectionState("live", clock_offset=offset))
                    if history:
                        await ws.send(_HISTORY_REQUEST)
                    if alerts:
                        await ws.send(_ALERTS_REQUEST)
                    self._position.connected()
                    async for received in self._receive(ws):
                        message = self._position.accept(received)
                        if self._position.resume_from is not None:
                            await ws.send(json.dumps({"type": MessageType.RESUME, "since": self._position.resume_from}))
                            self._position.resume_from = None
                        if message is not None:
                            yield message
                error = "the connection was closed"
            except OutOfStep as exc:
                error = str(exc)  # reconnecting with `since` brings what the patch was missing
            except (websockets.InvalidStatus, websockets.ConnectionClosed) as exc:
                if _refusal(exc):
                    self._on_state(ConnectionState("gave_up", failures, _describe(exc)))
                    raise Refused(_describe(exc)) from exc
                error = _describe(exc)
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                error = _describe(exc)
            failures += 1
            if failures > len(self.backoff):
                self._on_state(ConnectionState("gave_up", failures - 1, error))
                raise GaveUp(error)
            delay = self.backoff[failures - 1]
            self._on_state(ConnectionState("retrying", failures, error, delay))
            await self._sleep(delay)

    async def snapshots(self) -> AsyncIterator[dict[str, Any]]:
        """The `data` of every pushed snapshot, across reconnections."""
        async for message in self.messages(history=False):
            if message.get("type") == MessageType.METRICS:
                yield message["data"]
            elif message.get("type") == MessageType.RESET:
                self._reset(message)

    def iter_snapshots(self, *, buffer: int = 100) -> Iterator[dict[str, Any]]:
        """`snapshots()` for a script without asyncio: a plain iterator, fed by a thread.

        At most `buffer` snapshots wait for the caller; breaking out of the loop (or closing the
        iterator) stops the thread and its connection.
        """
        return iterate(self.snapshots, buffer=buffer)

    def _reset(self, message: dict[str, Any]) -> None:
        if self._on_reset is not None:
            self._on_reset(message)
        else:
            _log.warning(
                "the sidecar no longer keeps the snapshots after %s (%s); going on from the current one",
                message.get("since"),
                message.get("reason"),
            )

    async def alerts(self) -> AsyncIterator[dict[str, Any]]:
        """The `data` of every alert transition (firing or resolved), across reconnections.

        After each (re)connect the alerts firing at that moment come first, so a transition
        missed while disconnected is not lost: what fires is always known.
        """
        async for message in self.messages(history=False, alerts=True):
            if message.get("type") == MessageType.ALERT:
                yield message["data"]

    def connect_url(self) -> str:
        """The URL of the next connect: `since` once a snapshot was seen, `deltas` when asked."""
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("since", "deltas")]
        if self._position.last_id is not None:
            query.append(("since", str(self._position.last_id)))
        if self.deltas:
            query.append(("deltas", "1"))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _connect(self) -> connect:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        return connect(
            self.connect_url(),
            additional_headers=headers,
            open_timeout=self.open_timeout,
            compression=None,
            max_size=2**22,
            proxy=None,
        )

    async def _receive(self, ws: ClientConnection) -> AsyncIterator[dict[str, Any]]:
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=self.idle_timeout)
            except TimeoutError:
                raise TimeoutError(f"no message for {self.idle_timeout:g} s") from None
            try:
                message = json.loads(raw, parse_float=Decimal) if self.exact else json.loads(raw)
            except ValueError:
                yield {"type": "invalid", "error": "the sidecar sent a message that is not JSON"}
                continue
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                yield {"type": "invalid", "error": "the sidecar sent a message without a type"}
                continue
            yield message


def clock_offset(date_header: str | None, sent: float, received: float) -> float | None:
    """The peer's clock minus ours, from an HTTP `Date` header read between `sent` and `received`.

    `Date` has whole seconds (the peer's time was somewhere in that second), so the answer is
    right to within about one second plus half the round trip.
    """
    if not date_header:
        return None
    try:
        stamped = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if stamped.tzinfo is None:
        return None
    return stamped.timestamp() + 0.5 - (sent + received) / 2


def _refusal(exc: BaseException) -> bool:
    """True for the sidecar refusing credentials: HTTP 401/403, or a close with 4401/4403."""
    if isinstance(exc, websockets.InvalidStatus):
        return exc.response.status_code in REFUSAL_HTTP_STATUSES
    if isinstance(exc, websockets.ConnectionClosed):
        return exc.rcvd is not None and exc.rcvd.code in REFUSAL_CLOSE_CODES
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, websockets.ConnectionClosed):
        if _refusal(exc):
            return f"the sidecar refused the token (close {exc.rcvd.code}); pass --token or set METRICS_TOKEN"  # type: ignore[union-attr]
        return f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
    if isinstance(exc, websockets.InvalidStatus):
        status = exc.response.status_code
        if status in REFUSAL_HTTP_STATUSES:
            return f"the sidecar refused the token (HTTP {status}); pass --token or set METRICS_TOKEN"
        return f"the sidecar answered HTTP {status} instead of a WebSocket"
    return str(exc) or type(exc).__name__
