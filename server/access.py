"""Who may call what: the scope each REST path needs, checked before the route runs.

With no tokens configured everything is open (the sidecar then listens on loopback only, see
`Settings`). `/health` and `/openapi.json` stay open for load balancers and tooling.
"""

from __future__ import annotations

import math

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from server.auth import Token, authenticate, digest
from server.limits import RateLimiter

PUBLIC = frozenset({"/health", "/openapi.json"})


def required_scope(method: str, path: str) -> str | None:
    if path in PUBLIC:
        return None
    if path == "/api/v1/events" and method == "POST":
        return "ingest"
    if path == "/metrics":
        return "admin"
    return "read"


def bearer(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, credential = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


def denial(status: int, message: str) -> JSONResponse:
    code = "unauthorized" if status == 401 else "forbidden"
    headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def check(tokens: tuple[Token, ...], presented: str | None, scope: str) -> JSONResponse | None:
    """None when `presented` may use `scope`, else the 401 or 403 answer."""
    if presented is None:
        return denial(401, "an API token is required: Authorization: Bearer <token>")
    token = authenticate(tokens, presented)
    if token is None:
        return denial(401, "the API token is not valid")
    if not token.allows(scope):
        return denial(403, f"the token {token.name!r} lacks the {scope!r} scope")
    return None


def rate_limited(retry_after: float) -> JSONResponse:
    seconds = max(1, math.ceil(retry_after))
    body = {"error": {"code": "rate_limited", "message": f"too many requests; retry in {seconds} s"}}
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(seconds)})


class AccessMiddleware:
    """Checks REST requests: the token's scope, then its rate (per token, or per address when
    open). The WebSocket endpoint checks its own handshake (server.ws)."""

    def __init__(self, app: ASGIApp, tokens: tuple[Token, ...], limiter: RateLimiter) -> None:
        self.app = app
        self.tokens = tokens
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            needed = required_scope(scope["method"], scope["path"])
            if needed is not None:
                key = "address:" + (scope["client"][0] if scope.get("client") else "unknown")
                if self.tokens:
                    presented = bearer(Headers(scope=scope))
                    refusal = check(self.tokens, presented, needed)
                    if refusal is not None:
                        await refusal(scope, receive, send)
                        return
                    key = "token:" + digest(presented or "")
                wait = self.limiter.check(key)
                if wait is not None:
                    await rate_limited(wait)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
