"""uvicorn's WebSocket protocol (websockets-sansio), with protocol-level pings under a budget.

A ping frame is answered by the protocol itself, below the app: without this, a client could make
the sidecar write pongs as fast as it sends pings, whatever its message budget. Here each socket
may send `pings_per_minute` pings a minute (bursts of as many); one more closes it with 1008.
"""

from __future__ import annotations

import logging
import time

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from metrics_client.protocol import CloseCode
from server.limits import TokenBucket

log = logging.getLogger("server.ws")


class PingLimitedProtocol(WebSocketsSansIOProtocol):
    pings_per_minute = 120

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            # A refusal (401, 403, 429) answered in full ends the handshake; uvicorn 0.54 does not
            # note it, and would log "ASGI callable returned without completing handshake" as an ERROR.
            self.handshake_complete = True

    def handle_ping(self) -> None:
        budget: TokenBucket | None = getattr(self, "_ping_budget", None)
        now = time.monotonic()
        if budget is None:
            per_minute = self.pings_per_minute
            budget = self._ping_budget = TokenBucket(per_minute / 60, per_minute, per_minute, now)
        if budget.take(now) is None:
            super().handle_ping()
            return
        # The pong the protocol already prepared goes, then the close frame; the peer is not waited for.
        log.warning("WebSocket client floods ping frames, closing { ip: '%s' }", self.client[0] if self.client else "?")
        self.conn.send_close(CloseCode.POLICY_VIOLATION, "too many ping frames")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()


def ping_limited(pings_per_minute: int) -> type[PingLimitedProtocol]:
    """The protocol class for uvicorn's `ws` option, with this budget."""
    return type("PingLimitedProtocol", (PingLimitedProtocol,), {"pings_per_minute": pings_per_minute})
