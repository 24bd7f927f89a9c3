"""uvicorn's h11 HTTP protocol, with deadlines for a request's headers and body.

Before anything checks a token, a client can hold a connection and the memory behind it. h11
caps the size of the headers (`h11_max_incomplete_event_size`); uvicorn alone has no deadline for
a request that never finishes arriving: a silent connection, headers sent a line at a time, a
body trickled in. Here each request's headers must be complete within `header_timeout` seconds
of the connection opening (or of the previous response), and its body within `body_timeout`
seconds of the headers; otherwise the connection is closed. WebSocket upgrades leave this class
once their handshake headers are in; the socket then has deadlines of its own (`server.ws`).
"""

from __future__ import annotations

import asyncio
import logging
import time

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("server.http")

_LOG_EVERY = 60.0  # seconds between two log lines about slow requests (with the count between)


class _SlowClients:
    """Counts connections closed for slowness; says so at most once a minute, with the count."""

    def __init__(self) -> None:
        self._count = 0
        self._said_at = -_LOG_EVERY

    def closed(self, client: str, what: str) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._said_at >= _LOG_EVERY:
            log.warning(
                "closed a connection whose %s did not arrive in time { ip: '%s' } (%d such in the last minute)",
                what,
                client,
                self._count,
            )
            self._said_at, self._count = now, 0


slow_clients = _SlowClients()


class BoundedH11Protocol(H11Protocol):
    header_timeout = 10.0
    body_timeout = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._awaiting: str | None = None
        self._arm("headers", self.header_timeout)
        # h11 refuses headers that are still incomplete past its limit; headers that arrive whole
        # in one read are measured here, so the limit holds however they are sent.
        limit = self.config.h11_max_incomplete_event_size
        parse = self.conn.next_event

        def next_event() -> object:
            event = parse()
            if isinstance(event, h11.Request) and _size(event) > limit:
                raise h11.RemoteProtocolError("the request's headers are too large", error_status_hint=431)
            return event

        self.conn.next_event = next_event  # type: ignore[method-assign]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            self._disarm()  # closed, or upgraded to a WebSocket
            return
        if self.cycle is not cycle and self.cycle is not None:
            # A new request's headers are in: now its body, if it has one, has its own deadline.
            if self.cycle.more_body and self.conn.their_state is h11.SEND_BODY:
                self._arm("body", self.body_timeout)
            else:
                self._disarm()
        elif self._awaiting == "body" and self.cycle is not None and not self.cycle.more_body:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm("headers", self.header_timeout)  # of the next request on this connection

    def _arm(self, what: str, seconds: float) -> None:
        self._disarm()
        self._awaiting = what
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        deadline = getattr(self, "_deadline", None)
        if deadline is not None:
            deadline.cancel()
        self._deadline, self._awaiting = None, None

    def _too_slow(self) -> None:
        what, self._deadline = self._awaiting, None
        if what is None or self.transport.is_closing():
            return
        if what == "headers" and self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered (pipelining): the next one's clock starts after it
        slow_clients.closed(self.client[0] if self.client else "unknown", what)
        self.transport.close()


def _size(request: h11.Request) -> int:
    """The bytes of a request's line and headers, as sent."""
    line = len(request.method) + len(request.target) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers)


def bounded_h11(header_timeout: float, body_timeout: float) -> type[BoundedH11Protocol]:
    """The protocol class for uvicorn's `http` option, with these deadlines."""
    attributes = {"header_timeout": header_timeout, "body_timeout": body_timeout}
    return type("BoundedH11Protocol", (BoundedH11Protocol,), attributes)
