"""Who may call what: the scope each REST path needs, checked before the route runs.

With no tokens configured everything is open (the sidecar then listens on loopback only, see
`Settings`). `/health` and `/openapi.json` stay open for load balancers and tooling. Wrong or
missing tokens are counted per client address (`AuthFailures`): logged once a minute with the
count, and an address past the limit has its wrong tokens answered with 429 for the rest of that
minute. A valid token is never refused for its address's failures: many clients share one address
(a NAT, an office), and one of them guessing must not lock the others out.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from server.auth import Token, authenticate, digest
from server.errors import Forbidden, MetricsError, RateLimited, Unauthorized
from server.limits import RateLimiter
from server.token_registry import TokenRegistry

log = logging.getLogger("server.auth")

FAILURES_PER_MINUTE = 60  # wrong or missing tokens from one address in a minute before it waits
_WINDOW = 60.0

PUBLIC = frozenset({"/health", "/openapi.json"})
# Where a token may also come as `?token=`: a browser's EventSource cannot send headers.
QUERY_TOKEN_PATHS = frozenset({"/api/v1/stream"})


def required_scope(method: str, path: str) -> str | None:
    if path in PUBLIC:
        return None
    if path == "/api/v1/events" and method == "POST":
        return "ingest"
    if path == "/metrics":
        return "metrics"
    return "read"


def bearer(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, credential = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


def check(tokens: tuple[Token, ...], presented: str | None, scope: str) -> MetricsError | None:
    """None when `presented` may use `scope`, else why not (`Unauthorized` or `Forbidden`)."""
    if presented is None:
        return Unauthorized("an API token is required: Authorization: Bearer <token>")
    token = authenticate(tokens, presented)
    if token is None:
        return Unauthorized("the API token is not valid")
    if not token.allows(scope):
        return Forbidden(f"the token {token.name!r} lacks the {scope!r} scope")
    return None


@dataclass
class _Window:
    started: float
    count: int = 0
    unlogged: int = 0
    logged_at: float = -math.inf


class AuthFailures:
    """Wrong or missing tokens, per client address, in a bounded table (the oldest addresses go)."""

    def __init__(
        self, limit: int = FAILURES_PER_MINUTE, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self._clock = clock
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._refused: OrderedDict[str, _Window] = OrderedDict()  # WebSocket handshakes refused, per address

    def handshake_refused(self, address: str, status: int, reason: str) -> None:
        """Says that a WebSocket handshake was refused, at most once a minute per address (with the count)."""
        now = self._clock()
        window = self._refused.pop(address, None) or _Window(started=now)
        self._refused[address] = window
        while len(self._refused) > self.max_keys:
            self._refused.popitem(last=False)
        window.unlogged += 1
        if now - window.logged_at >= _WINDOW:
            log.warning(
                "WebSocket handshake refused { ip: '%s', status: %d, reason: '%s' } (%d in the last minute)",
                address,
                status,
                reason,
                window.unlogged,
            )
            window.logged_at, window.unlogged = now, 0

    def refusal(self, address: str, presented: str | None, why: Unauthorized) -> MetricsError:
        """What a wrong or missing token from `address` is answered: 401, counted, or 429 while
        the address is past its limit."""
        if (wait := self.wait(address)) is not None:
            return RateLimited(wait, f"too many failed authentications from this address; retry in {math.ceil(wait)} s")
        self.failed(address, "no token" if presented is None else "invalid token")
        return why

    def wait(self, address: str) -> float | None:
        """Seconds before wrong tokens from `address` are answered 401 again (429 till then), or None."""
        window = self._windows.get(address)
        if window is None:
            return None
        remaining = window.started + _WINDOW - self._clock()
        if remaining <= 0 or window.count < self.limit:
            return None
        return remaining

    def failed(self, address: str, reason: str) -> None:
        now = self._clock()
        window = self._windows.pop(address, None)
        if window is None:
            window = _Window(started=now)
        elif now - window.started >= _WINDOW:  # a new minute; what was not said yet is said with it
            window = _Window(started=now, unlogged=window.unlogged, logged_at=window.logged_at)
        self._windows[address] = window
        while len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)
        window.count += 1
        window.unlogged += 1
        if now - window.logged_at >= _WINDOW:
            log.warning(
                "authentication failed { ip: '%s', reason: '%s', failures: %d }", address, reason, window.unlogged
            )
            window.logged_at, window.unlogged = now, 0
        if window.count == self.limit:
            log.warning("too many failed authentications { ip: '%s' }: it waits out the minute", address)


class AccessMiddleware:
    """Checks REST requests: the token's scope, then its rate (per token, or per address when
    open). The WebSocket endpoint checks its own handshake (server.ws)."""

    def __init__(self, app: ASGIApp, registry: TokenRegistry, limiter: RateLimiter, failures: AuthFailures) -> None:
        self.app = app
        self.registry = registry
        self.limiter = limiter
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            needed = required_scope(scope["method"], scope["path"])
            if needed is not None:
                address = scope["client"][0] if scope.get("client") else "unknown"
                key = "address:" + address
                if self.registry.required:
                    presented = bearer(Headers(scope=scope))
                    if presented is None and scope["path"] in QUERY_TOKEN_PATHS:
                        presented = QueryParams(scope.get("query_string", b"")).get("token") or None
                    refusal = check(self.registry.tokens, presented, needed)
                    if isinstance(refusal, Unauthorized):
                        refusal = self.failures.refusal(address, presented, refusal)
                    if refusal is not None:
                        await refusal.response()(scope, receive, send)
                        return
                    key = "token:" + digest(presented or "")
                wait = self.limiter.check(key)
                if wait is not None:
                    await RateLimited(wait).response()(scope, receive, send)
                    return
        await self.app(scope, receive, send)
