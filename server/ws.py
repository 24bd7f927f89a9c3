"""`/ws/metrics`: the WebSocket protocol. Fan-out is the hub's; this module speaks to one client.

Close codes the server uses:
  1001  the sidecar is shutting down (SidecarServer closes every socket before uvicorn stops)
  1008  the client let 32 replies wait unsent for `stall_timeout` seconds (it reads none of them), or
        went on sending after its message rate was exceeded, or sent ping frames past that rate
  1009  a frame larger than 64 KB
  1013  the socket authenticated by its first message, but its address already holds
        METRICS_SOCKETS_PER_ADDRESS sockets (with credentials in the handshake: HTTP 429 instead)
  4008  the client stopped reading: a push could not be written for `stall_timeout` seconds
  4401  tokens are required and the first message (within 3 s) was not a valid
        {"type": "auth", "token": ...}
  4403  the token lacks the `read` scope, or was taken out of the tokens file while the socket was open
A handshake from a browser `Origin` that is not allowed is refused with HTTP 403, and one with a
wrong token (header or ?token=) with HTTP 401 / 403. Only authenticated sockets count against
METRICS_SOCKETS_PER_ADDRESS (HTTP 429 past it); sockets still waiting for their first-message
token have a small cap of their own per address (HTTP 429), and an address with too many failed
authentications in the last minute waits (HTTP 429).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from metrics_client.protocol import CloseCode, ErrorCode, MessageType, error_body
from server.access import AuthFailures, bearer, check
from server.alerts.feed import AlertFeed
from server.auth import Token
from server.deltas import DeltaCache, DeltaOutbox
from server.errors import Forbidden, MetricsError, RateLimited, Unauthorized
from server.hub import CloseRequest, Outbox, SnapshotHub
from server.limits import AddressCounter, TokenBucket
from server.live_top import TopFeed
from server.observability import SidecarMetrics
from server.replay import Replayer, StreamStalled, start_stream
from server.settings import Settings
from server.snapshot import PUSH_START
from server.token_registry import TokenRegistry
from server.wire import DirectWriter

log = logging.getLogger("server.ws")


def _compact(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


AUTH_TIMEOUT = 3.0  # seconds a socket without credentials in its handshake has to send them
MAX_UNREAD_REPLIES = 32
_PONG = _compact({"type": MessageType.PONG})
_AUTH_OK = _compact({"type": MessageType.AUTH, "ok": True})
_DELTA_START = f'{{"type":"{MessageType.DELTA}"'
# The `reason` label of `metrics_ws_closes` for each close code the server sends.
_CLOSE_REASONS: dict[int, str] = {
    CloseCode.GOING_AWAY: "shutdown",
    CloseCode.POLICY_VIOLATION: "flooding",
    CloseCode.TOO_BIG: "frame_too_big",
    CloseCode.STALLED: "stalled",
    CloseCode.FORBIDDEN: "revoked",
    CloseCode.INTERNAL_ERROR: "error",
}


def _error(code: str, message: str) -> str:
    return _compact({"type": MessageType.ERROR, **error_body(code, message)})


def _client_ip(websocket: WebSocket) -> str:
    return websocket.client.host if websocket.client else "unknown"


class TokenSockets:
    """The open sockets of each token, so that a token taken away closes them (4403)."""

    def __init__(self) -> None:
        self._by_token: dict[str, set[Outbox]] = {}

    def add(self, sha256: str, outbox: Outbox) -> None:
        self._by_token.setdefault(sha256, set()).add(outbox)

    def discard(self, sha256: str, outbox: Outbox) -> None:
        outboxes = self._by_token.get(sha256)
        if outboxes is not None:
            outboxes.discard(outbox)
            if not outboxes:
                del self._by_token[sha256]

    def revoke(self, removed: frozenset[str]) -> None:
        for sha256 in removed:
            for outbox in self._by_token.pop(sha256, set()):
                outbox.close(CloseCode.FORBIDDEN)


async def metrics_socket(websocket: WebSocket) -> None:
    settings: Settings = websocket.state.settings
    hub: SnapshotHub = websocket.state.hub
    ip = _client_ip(websocket)
    failures: AuthFailures = websocket.state.auth_failures
    origin = websocket.headers.get("origin")
    if origin is not None and origin.rstrip("/") not in settings.allowed_origins:
        failures.handshake_refused(ip, 403, "origin not allowed")
        await websocket.close(code=CloseCode.POLICY_VIOLATION)  # before accept: the server answers HTTP 403
        return
    # Authenticate first: only authenticated sockets count against the address's cap, so sockets
    # that never authenticate cannot lock out one that does.
    registry: TokenRegistry = websocket.state.tokens
    token: Token | None = None
    accepted = False
    if registry.required:
        presented = bearer(websocket.headers) or websocket.query_params.get("token")
        if presented is not None:
            refusal = check(registry.tokens, presented, "read")
            if isinstance(refusal, Unauthorized):
                refusal = failures.refusal(ip, presented, refusal)
            if refusal is not None:
                await _refuse(websocket, refusal, failures)
                return
            token = registry.authenticate(presented)
        else:
            # No credentials in the handshake: the first message must bring them, soon, and an
            # address may have only a few sockets waiting for theirs.
            waiting: AddressCounter = websocket.state.sockets_authenticating
            if not waiting.acquire(ip):
                busy = RateLimited(AUTH_TIMEOUT, "too many sockets from this address are authenticating")
                await _refuse(websocket, busy, failures)
                return
            try:
                await websocket.accept()
                accepted = True
                token = await _first_message_auth(websocket, registry, failures, ip)
            finally:
                waiting.release(ip)
            if token is None:
                return
    addresses: AddressCounter = websocket.state.sockets_by_address
    if not addresses.acquire(ip):
        if accepted:
            await websocket.send_text(_error(ErrorCode.RATE_LIMITED, "too many sockets from this address"))
            await websocket.close(code=CloseCode.TRY_AGAIN_LATER)
        else:
            await _refuse(websocket, RateLimited(60, "too many sockets from this address"), failures)
        return
    try:
        if not accepted:
            await websocket.accept()
        await _serve(websocket, settings, hub, token)
    finally:
        addresses.release(ip)


async def _serve(websocket: WebSocket, settings: Settings, hub: SnapshotHub, token: Token | None) -> None:
    observability: SidecarMetrics = websocket.state.observability
    observability.sockets.inc()
    ip = _client_ip(websocket)
    log.info("WebSocket client connected { ip: '%s' }", ip)
    # Pushes to a client that keeps up are written by the hub itself (one write per socket) and
    # counted there once per snapshot; the sender counts the ones it writes.
    direct = DirectWriter.of(websocket)
    outbox: Outbox
    if websocket.query_params.get("deltas") in ("1", "true"):
        cache: DeltaCache = websocket.state.deltas
        outbox = DeltaOutbox(MAX_UNREAD_REPLIES, cache, direct=direct)
    else:
        outbox = Outbox(MAX_UNREAD_REPLIES, direct=direct)
    replayer: Replayer = websocket.state.replayer
    since, problem = parse_since(websocket.query_params.get("since"))
    if problem is not None:
        outbox.offer_reply(_error(ErrorCode.INVALID_MESSAGE, problem))
    if since is None:
        await start_stream(replayer, outbox, None, settings.stall_timeout)  # the current snapshot, then live
    else:
        hub.attach(outbox, live=False)  # registered (a shutdown closes it too); it replays first, below
    token_sockets: TokenSockets = websocket.state.token_sockets
    if token is not None:
        token_sockets.add(token.sha256, outbox)
    alerts: AlertFeed = websocket.state.alerts
    if websocket.query_params.get("alerts") in ("1", "true"):
        alerts.subscribe(outbox)
    top: TopFeed = websocket.state.top
    if websocket.query_params.get("top") in ("1", "true"):
        top.subscribe(outbox)
    close_code: int | None = None
    try:
        # The sender and the receiver run side by side; whichever ends first ends both.
        async with anyio.create_task_group() as tasks:

            async def send_all() -> None:
                nonlocal close_code
                close_code = await _send_loop(websocket, outbox, settings.stall_timeout, observability)
                tasks.cancel_scope.cancel()

            tasks.start_soon(send_all)
            code = None if since is None else await _resume(websocket, replayer, outbox, since, settings)
            if code is None:
                code = await _receive_loop(websocket, outbox, replayer, settings)
            close_code = close_code or code
            tasks.cancel_scope.cancel()
    except Exception as exc:
        log.error("WebSocket error { ip: '%s', error: '%s' }", ip, type(exc).__name__)
        close_code = CloseCode.INTERNAL_ERROR
    finally:
        hub.detach(outbox)
        alerts.unsubscribe(outbox)
        top.unsubscribe(outbox)
        if token is not None:
            token_sockets.discard(token.sha256, outbox)
        observability.sockets.dec()
    reason = _CLOSE_REASONS.get(close_code, "client") if close_code is not None else "client"
    observability.socket_closes.labels(reason).inc()
    if close_code is not None:
        # A stalled peer cannot take even the close frame; its TCP connection is then ended
        # by the server's keepalive (no pong) instead.
        with anyio.move_on_after(1.0), contextlib.suppress(Exception):
            await websocket.close(code=close_code)
    log.info("WebSocket client disconnected { ip: '%s' }", ip)


async def _refuse(websocket: WebSocket, refusal: MetricsError, failures: AuthFailures) -> None:
    failures.handshake_refused(_client_ip(websocket), refusal.status_code, refusal.message)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(refusal.response())
    else:
        await websocket.close(code=CloseCode.POLICY_VIOLATION)


async def _first_message_auth(
    websocket: WebSocket, registry: TokenRegistry, failures: AuthFailures, ip: str
) -> Token | None:
    """Wait (bounded) for `{"type": "auth", "token": ...}`; its token, else close with 4401 / 4403."""
    with anyio.move_on_after(AUTH_TIMEOUT):
        message = await websocket.receive()
        text = message.get("text") if message["type"] == "websocket.receive" else None
        if message["type"] == "websocket.disconnect":
            return None
        try:
            request = json.loads(text) if text is not None and len(text) <= 4096 else None
        except ValueError:
            request = None
        is_auth = isinstance(request, dict) and request.get("type") == MessageType.AUTH
        presented = request.get("token") if is_auth and isinstance(request, dict) else None
        presented = presented if isinstance(presented, str) else None
        refusal = check(registry.tokens, presented, "read")
        if refusal is None:
            await websocket.send_text(_AUTH_OK)
            return registry.authenticate(presented or "")
        if isinstance(refusal, Unauthorized) and presented is not None:
            refusal = failures.refusal(ip, presented, refusal)  # a guess is counted; a malformed message is not
        await websocket.send_text(_error(refusal.code, refusal.message))
        await websocket.close(code=CloseCode.FORBIDDEN if isinstance(refusal, Forbidden) else CloseCode.UNAUTHORIZED)
        return None
    # Silence is not a guess: such sockets are bounded by the per-address count of sockets
    # authenticating, and counting them would let them lock an address's real clients out.
    await websocket.close(code=CloseCode.UNAUTHORIZED, reason="no auth message")
    return None


async def _send_loop(
    websocket: WebSocket, outbox: Outbox, stall_timeout: float, observability: SidecarMetrics
) -> int | None:
    """Write whatever the outbox holds; returns a close code when the client stops reading."""
    skipped = 0
    while True:
        frame = await outbox.next()
        if isinstance(frame, CloseRequest):
            return int(frame)
        if outbox.skipped != skipped:
            observability.skipped.inc(outbox.skipped - skipped)
            skipped = outbox.skipped
        try:
            with anyio.move_on_after(stall_timeout) as deadline:
                await websocket.send_text(frame)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return None
        if deadline.cancelled_caught:
            log.warning("WebSocket client stalled, closing { ip: '%s' }", _client_ip(websocket))
            return CloseCode.STALLED
        if frame.startswith((PUSH_START, _DELTA_START)):  # a push, not a reply
            observability.pushes.inc()


async def _resume(
    websocket: WebSocket, replayer: Replayer, outbox: Outbox, since: int, settings: Settings
) -> int | None:
    """Replay what the client missed after `since`, then live; a close code if it stalls meanwhile."""
    try:
        await start_stream(replayer, outbox, since, settings.stall_timeout, registered=True)
    except StreamStalled:
        log.warning("WebSocket client stalled during a replay, closing { ip: '%s' }", _client_ip(websocket))
        return CloseCode.STALLED
    return None


async def _receive_loop(websocket: WebSocket, outbox: Outbox, replayer: Replayer, settings: Settings) -> int | None:
    """Answer the client's messages; returns a close code, or None once the client has gone."""
    per_minute = settings.socket_messages_per_minute
    budget = TokenBucket(rate=per_minute / 60, burst=per_minute, level=per_minute, updated=time.monotonic())
    refused = 0
    while True:
        feeds: dict[str, bool] = {}
        resume: int | None = None
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text: str | None = message.get("text")
        data: bytes | None = message.get("bytes")
        size = len(text.encode()) if text is not None else len(data or b"")
        if size > settings.max_frame_bytes:
            log.warning("WebSocket frame too big, closing { ip: '%s', bytes: %d }", _client_ip(websocket), size)
            return CloseCode.TOO_BIG
        if budget.take(time.monotonic()) is not None:
            # Over the rate: told so, then closed if it keeps on (throttled, then closed).
            refused += 1
            if refused > per_minute:
                log.warning("WebSocket client floods messages, closing { ip: '%s' }", _client_ip(websocket))
                return CloseCode.POLICY_VIOLATION
            reply = _error(ErrorCode.RATE_LIMITED, f"at most {per_minute} messages a minute")
        elif text is not None:
            reply, feeds, resume = _reply(text, replayer.hub)
            if resume is not None:
                if (code := await _resume(websocket, replayer, outbox, resume, settings)) is not None:
                    return code
                continue
        else:
            reply = _error(ErrorCode.INVALID_MESSAGE, "binary frames are not supported; send JSON text")
        with anyio.move_on_after(settings.stall_timeout) as waited:
            await outbox.put_reply(reply)
        if waited.cancelled_caught:
            log.warning("WebSocket client reads none of its replies, closing { ip: '%s' }", _client_ip(websocket))
            return CloseCode.POLICY_VIOLATION
        # After its acknowledgement: then the alerts firing now and every transition, or the
        # current top content and every interval's.
        subscribers: dict[str, AlertFeed | TopFeed] = {"alerts": websocket.state.alerts, "top": websocket.state.top}
        for feed, wanted in feeds.items():
            (subscribers[feed].subscribe if wanted else subscribers[feed].unsubscribe)(outbox)


_FEEDS = ("alerts", "top")  # what a socket may subscribe to, beside the snapshots every socket gets


def _reply(text: str, hub: SnapshotHub) -> tuple[str, dict[str, bool], int | None]:
    """The answer to one text message, the feeds it subscribed to (True) or left (False), and the
    id it asked to resume after (None: it did not; the answer is then the replay)."""
    try:
        request: Any = json.loads(text)
    except (ValueError, RecursionError):
        return _error(ErrorCode.INVALID_JSON, "the message is not valid JSON"), {}, None
    if not isinstance(request, dict) or not isinstance(request.get("type"), str):
        return _error(ErrorCode.INVALID_MESSAGE, 'a message is a JSON object with a string "type"'), {}, None
    kind = request["type"]
    if kind == MessageType.PING:
        return _PONG, {}, None
    if kind == MessageType.HISTORY:
        return hub.history_frame(), {}, None
    if kind == MessageType.SUBSCRIBE:
        feeds = {feed: request[feed] for feed in _FEEDS if feed in request}
        if not feeds or not all(isinstance(wanted, bool) for wanted in feeds.values()):
            usage = 'subscribe takes {"type": "subscribe", "alerts": true | false, "top": true | false} (one or both)'
            return _error(ErrorCode.INVALID_MESSAGE, usage), {}, None
        return _compact({"type": MessageType.SUBSCRIBED, **feeds}), feeds, None
    if kind == MessageType.RESUME:
        since = request.get("since")
        if type(since) is not int or since < 0:
            usage = 'resume takes {"type": "resume", "since": <the last snapshotId received, an integer >= 0>}'
            return _error(ErrorCode.INVALID_MESSAGE, usage), {}, None
        return "", {}, since
    return (
        _error(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:64]!r}; use ping, history, subscribe or resume"),
        {},
        None,
    )


def parse_since(raw: str | None) -> tuple[int | None, str | None]:
    """`?since=` (or an event stream's Last-Event-ID): the id, or None and why it is not one."""
    if raw is None or raw == "":
        return None, None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None, f"since must be a snapshotId (an integer >= 0), got {raw[:32]!r}"
    return int(raw), None
