"""`GET /api/v1/stream`: the socket's snapshots as Server-Sent Events (`text/event-stream`).

Each snapshot is `id: <snapshotId>`, `event: metrics`, `data: <the snapshot's JSON>`; with
`?deltas=1` the updates after the first are `event: delta` (server.deltas). `Last-Event-ID` (sent by
an EventSource when it reconnects), or `?since=` for curl, resumes as on the socket
(server.replay): `event: resumed`, the missed snapshots, then live ones; or `event: reset`. When
the numbers go stale, the stale copy of the snapshot comes again with the same `id:`; that is the
only way an id repeats.

The same rules as the socket: a `read` token (the Authorization header, or `?token=` since an
EventSource cannot send headers; checked by server.access), browsers only from
METRICS_ALLOWED_ORIGINS, at most METRICS_SOCKETS_PER_ADDRESS streams per address (a cap of their
own), one pending snapshot per client (newest wins), a client that reads nothing for the stall
timeout is disconnected, a stream whose token is taken out of the tokens file ends. A comment
line every 15 s keeps proxies from closing a quiet stream.
The sidecar's shutdown ends every stream (SidecarServer, through the hub).
"""

from __future__ import annotations

import contextlib
import logging

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from server import frames
from server.access import bearer
from server.auth import Token
from server.deltas import DeltaCache, DeltaOutbox
from server.errors import Forbidden, RateLimited, ValidationFailed
from server.hub import CloseRequest, Outbox, SnapshotHub
from server.limits import AddressCounter
from server.observability import SidecarMetrics
from server.replay import Replayer, StreamStalled, start_stream
from server.settings import Settings
from server.token_registry import TokenRegistry
from server.ws import MAX_UNREAD_REPLIES, TokenSockets, parse_since

log = logging.getLogger("server.sse")

STREAM_PATH = "/api/v1/stream"
KEEPALIVE_SECONDS = 15.0
_STALLED = 0  # the close "code" a stalled replay asks for (an event stream has no close codes)
_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx would otherwise hold events back in its buffer
)


async def event_stream(request: Request) -> Response:
    settings: Settings = request.state.settings
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") not in settings.allowed_origins:
        raise Forbidden("this origin may not open the stream (METRICS_ALLOWED_ORIGINS)")
    raw = request.headers.get("last-event-id")
    since, problem = parse_since(raw if raw is not None else request.query_params.get("since"))
    if problem is not None:
        field = "Last-Event-ID" if raw is not None else "since"
        raise ValidationFailed(problem, [{"field": field, "message": problem}])
    address = request.client.host if request.client else "unknown"
    streams: AddressCounter = request.state.streams_by_address
    if not streams.acquire(address):
        raise RateLimited(60, "too many event streams from this address")
    deltas = request.query_params.get("deltas") in ("1", "true")
    # Checked already (server.access); known here so that taking it out of the tokens file ends the stream.
    registry: TokenRegistry = request.state.tokens
    presented = bearer(request.headers) or request.query_params.get("token")
    token = registry.authenticate(presented) if registry.required and presented else None
    return EventStream(request, address, since, deltas, token)


class EventStream(Response):
    """The response: runs for as long as the client listens (or until the sidecar stops)."""

    def __init__(self, request: Request, address: str, since: int | None, deltas: bool, token: Token | None) -> None:
        # Not Response.__init__: it would declare a Content-Length for the (empty) body.
        self.status_code = 200
        self.background = None
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8"), *_HEADERS]
        self._state = request.state
        self._address = address
        self._since = since
        self._deltas = deltas
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._state
        settings: Settings = state.settings
        hub: SnapshotHub = state.hub
        replayer: Replayer = state.replayer
        observability: SidecarMetrics = state.observability
        outbox: Outbox
        if self._deltas:
            cache: DeltaCache = state.deltas
            outbox = DeltaOutbox(MAX_UNREAD_REPLIES, cache, kind="sse")
        else:
            outbox = Outbox(MAX_UNREAD_REPLIES, kind="sse")
        observability.event_streams.inc()
        token_streams: TokenSockets = state.token_sockets
        if self._token is not None:
            token_streams.add(self._token.sha256, outbox)
        try:
            if self._since is None:
                await start_stream(replayer, outbox, None, settings.stall_timeout)
            else:
                hub.attach(outbox, live=False)
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async with anyio.create_task_group() as tasks:

                async def until_disconnected() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tasks.cancel_scope.cancel()

                async def resume(since: int) -> None:
                    try:
                        await start_stream(replayer, outbox, since, settings.stall_timeout, registered=True)
                    except StreamStalled:
                        outbox.close(_STALLED)

                tasks.start_soon(until_disconnected)
                if self._since is not None:
                    tasks.start_soon(resume, self._since)
                stalled = await _send_all(send, outbox, settings.stall_timeout, observability)
                tasks.cancel_scope.cancel()
            if stalled:
                log.warning("event stream client stalled, disconnecting { ip: '%s' }", self._address)
                if _abort(receive):
                    with anyio.move_on_after(1.0):  # till uvicorn has seen the connection go
                        while (await receive())["type"] != "http.disconnect":
                            pass
            else:
                with anyio.move_on_after(1.0), contextlib.suppress(OSError):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if self._token is not None:
                token_streams.discard(self._token.sha256, outbox)
            hub.detach(outbox)
            state.streams_by_address.release(self._address)
            observability.event_streams.dec()


async def _send_all(send: Send, outbox: Outbox, stall_timeout: float, observability: SidecarMetrics) -> bool:
    """Write what the outbox holds, a keepalive when it holds nothing for a while; True when the
    client stopped reading, False when the stream was asked to end."""
    frame: str | CloseRequest = frames.sse_preamble()
    while True:
        if isinstance(frame, CloseRequest):
            return int(frame) == _STALLED
        with anyio.move_on_after(stall_timeout) as waited:
            await send({"type": "http.response.body", "body": frame.encode(), "more_body": True})
        if waited.cancelled_caught:
            return True
        if frame.startswith("id: "):
            observability.events.inc()
        frame = frames.SSE_KEEPALIVE
        with anyio.move_on_after(KEEPALIVE_SECONDS):
            frame = await outbox.next()


def _abort(receive: Receive) -> bool:
    """Drop the connection of a client that stopped reading, with what it has not read; False where
    there is no connection to drop.

    uvicorn hands the app its request cycle's bound `receive` (no middleware of ours wraps it);
    elsewhere (a test client) there is nothing to drop."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.abort()
    return True
