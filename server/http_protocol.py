"""uvicorn's h11 HTTP protocol, with bounds that hold before any token is checked.

A client can hold connections, and the memory and file handles behind them, without ever making
a request. h11 caps the size of the headers (`h11_max_incomplete_event_size`); here, besides:
- each request's headers must be complete within `header_timeout` seconds of the connection
  opening (or of the previous response), and its body within `body_timeout` seconds of the
  headers; otherwise the connection is closed;
- one client address may hold `per_address` connections that are still HTTP (not yet upgraded to
  a WebSocket); trusted proxies, which carry many clients, are not counted;
- past `limit` open connections a new one is closed as soon as it is accepted, so the file
  handles that are left stay free (uvicorn alone would answer 503 only once a request arrived).
WebSocket upgrades leave this class once their handshake headers are in; the socket then has
bounds of its own (`server.ws`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from server.client_address import Network

log = logging.getLogger("server.http")

_LOG_EVERY = 60.0  # seconds between two log lines about slow requests (with the count between)


class _Closed:
    """Counts connections closed for one reason; says so at most once a minute, with the count."""

    def __init__(self, reason: str) -> None:
        self._reason = reason
        self._count = 0
        self._said_at = -_LOG_EVERY

    def closed(self, client: str) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._said_at >= _LOG_EVERY:
            log.warning(
                "closed a connection: %s { ip: '%s' } (%d such in the last minute)", self._reason, client, self._count
            )
            self._said_at, self._count = now, 0


slow_clients = {
    "headers": _Closed("its headers did not arrive in time"),
    "body": _Closed("its body did not arrive in time"),
}
over_limit = _Closed("the sidecar holds as many connections as it may (METRICS_MAX_CONNECTIONS)")
over_address_limit = _Closed("its address holds as many connections as one may (METRICS_CONNECTIONS_PER_ADDRESS)")


class BoundedH11Protocol(H11Protocol):
    header_timeout = 10.0
    body_timeout = 30.0
    per_address = 64
    exempt: tuple[Network, ...] = ()
    _open: ClassVar[dict[str, int]] = {}  # HTTP connections per client address (each server's class has its own)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._awaiting: str | None = None
        self._counted: str | None = None
        address = self.client[0] if self.client else "unknown"
        if self.limit_concurrency is not None and len(self.connections) > self.limit_concurrency:
            over_limit.closed(address)
            transport.close()
            return
        if not self._exempt(address):
            if self._open.get(address, 0) >= self.per_address:
                over_address_limit.closed(address)
                transport.close()
                return
            self._open[address] = self._open.get(address, 0) + 1
            self._counted = address
        self._arm("headers", self.header_timeout)
        # h11 refuses headers that are still incomplete past its limit; headers that arrive whole
        # in one read are measured here, so the limit holds however they are sent.
        limit = self.config.h11_max_incomplete_event_size or 16 * 1024  # uvicorn's own default, when unset
        parse = self.conn.next_event

        def next_event() -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
            event = parse()
            if isinstance(event, h11.Request) and _size(event) > limit:
                raise h11.RemoteProtocolError("the request's headers are too large", error_status_hint=431)
            return event

        self.conn.next_event = next_event  # type: ignore[method-assign]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._uncount()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.transport.get_protocol() is not self:
            self._disarm()  # upgraded to a WebSocket: no longer an HTTP connection of this address
            self._uncount()
            return
        if self.transport.is_closing():
            self._disarm()
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

    def _exempt(self, address: str) -> bool:
        if not self.exempt:
            return False
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self.exempt)

    def _uncount(self) -> None:
        address, self._counted = getattr(self, "_counted", None), None
        if address is not None:
            remaining = self._open.get(address, 0) - 1
            if remaining > 0:
                self._open[address] = remaining
            else:
                self._open.pop(address, None)

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
        slow_clients[what].closed(self.client[0] if self.client else "unknown")
        self.transport.close()


def _size(request: h11.Request) -> int:
    """The bytes of a request's line and headers, as sent."""
    line = len(request.method) + len(request.target) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers)


def bounded_h11(
    header_timeout: float, body_timeout: float, per_address: int, exempt: tuple[Network, ...] = ()
) -> type[BoundedH11Protocol]:
    """The protocol class for uvicorn's `http` option, with these bounds (and a count of its own)."""
    attributes = {
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "per_address": per_address,
        "exempt": exempt,
        "_open": {},
    }
    return type("BoundedH11Protocol", (BoundedH11Protocol,), attributes)
