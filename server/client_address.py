"""The client's real address, taken from a proxy's header only when that proxy is trusted.

uvicorn's own proxy handling is turned off (`server.app.uvicorn_config`): by default it believes
`X-Forwarded-For` from 127.0.0.1, so anything on the host, or any client of a same-host proxy that
passes the client's own header on, could name any address and get a fresh per-address socket cap
and rate limit for each one. Here nothing is believed unless the direct peer is inside
METRICS_TRUSTED_PROXIES (none by default). From a trusted peer:

- **The address.** `X-Forwarded-For`, or RFC 7239 `Forwarded: for=...` when no X-Forwarded-For
  came, is walked from the right (the hop nearest to us first). Addresses that are themselves
  trusted proxies are skipped; the first other one is the client. When every hop is a trusted
  proxy the request began at one of them, the leftmost. A hop that is not an address (garbage,
  `unknown`, an obfuscated `_name`) ends the walk: who is behind it cannot be known, so the peer
  is kept. X-Forwarded-For wins because it is what nginx, HAProxy and cloud balancers write; a
  proxy that knows only one of the two passes the other through from the client untouched, so it
  must be the one it overwrites (a proxy that writes only `Forwarded` must drop client-sent
  X-Forwarded-For).
- **The scheme** the client used: the `proto=` of the client's `Forwarded` element, else a single
  `X-Forwarded-Proto` value (`http` or `https`; a list from a chain of proxies is ignored). It
  becomes `scope["scheme"]` (`ws`/`wss` on a socket), as uvicorn's handling did, so URLs the app
  builds say https behind a TLS-terminating proxy.

Malformed headers never raise: the peer is kept. `scope["client"]` is rewritten in place, so
uvicorn's access log, the REST rate limiter (`server.access`) and the socket cap and logs
(`server.ws`) all see the resolved address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# A pair's value: a quoted-string (with backslash escapes), or, leniently, anything up to the next
# separator (RFC 7239 wants IPv6 and ports quoted, but a trusted proxy that forgets is still read).
_PAIR = re.compile(rf"\s*({_TOKEN})\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^\s;,\"]*)")
_ESCAPE = re.compile(r"\\(.)")
_PORT = re.compile(r"[0-9]{1,5}|_[A-Za-z0-9._-]+")  # digits, or an obfuscated port (RFC 7239 6.3)


@dataclass(frozen=True)
class ResolvedClient:
    host: str
    port: int
    scheme: str | None = None  # "http" or "https" as the client used it, when a trusted proxy said so


def parse_networks(raw: str) -> tuple[Network, ...]:
    """Comma-separated addresses and CIDR blocks; ValueError names the entry that is neither."""
    networks: list[Network] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            # strict=False: 10.0.0.1/8 means 10.0.0.0/8, as nginx's set_real_ip_from reads it.
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not an IP address or CIDR block") from exc
    return tuple(networks)


def resolve_client(
    peer: tuple[str, int], headers: Iterable[tuple[bytes, bytes]], trusted: Sequence[Network]
) -> ResolvedClient:
    """Who the client is, given the direct peer, the request's raw headers and the trusted proxies."""
    keep = ResolvedClient(peer[0], peer[1])
    peer_address = _address(peer[0])
    if peer_address is None or not _within(peer_address, trusted):
        return keep
    forwarded_for: list[str] = []
    forwarded: list[str] = []
    protos: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            forwarded_for.append(value.decode("latin-1"))
        elif name == b"forwarded":
            forwarded.append(value.decode("latin-1"))
        elif name == b"x-forwarded-proto":
            protos.append(value.decode("latin-1"))
    proto_header = _single_scheme(protos)
    if forwarded_for:
        chosen = _client_hop([_node(hop) for hop in ",".join(forwarded_for).split(",")], trusted)
        if chosen is None:
            return ResolvedClient(peer[0], peer[1], proto_header)
        _, address, port = chosen
        return ResolvedClient(str(address), port, proto_header)
    if forwarded:
        elements = _forwarded_elements(",".join(forwarded))
        chosen = None if elements is None else _client_hop([_node(e.get("for", "")) for e in elements], trusted)
        if elements is None or chosen is None:
            return ResolvedClient(peer[0], peer[1], proto_header)
        index, address, port = chosen
        return ResolvedClient(str(address), port, _SCHEMES.get(elements[index].get("proto", "").lower(), proto_header))
    return ResolvedClient(peer[0], peer[1], proto_header)


class ClientAddressMiddleware:
    """Rewrites `scope["client"]` (and `scope["scheme"]`) from a trusted proxy's headers.

    Installed outermost, so everything after it sees the resolved client."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if self.trusted and client and scope["type"] in ("http", "websocket"):
            resolved = resolve_client((client[0], client[1]), scope["headers"], self.trusted)
            scope["client"] = (resolved.host, resolved.port)
            if resolved.scheme is not None:
                secure = resolved.scheme == "https"
                if scope["type"] == "websocket":
                    scope["scheme"] = "wss" if secure else "ws"
                else:
                    scope["scheme"] = "https" if secure else "http"
        await self.app(scope, receive, send)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; they are the IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def _node(text: str) -> tuple[Address, int] | None:
    """A hop as an address and port (0 when not given or obfuscated); None when it is no address:
    garbage, `unknown`, or an obfuscated identifier."""
    text = text.strip()
    host, port = text, None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or rest[:1] not in ("", ":"):
            return None
        port = rest[1:] if rest else None
    elif text.count(":") == 1:  # IPv4 with a port; an IPv6 address has at least two colons
        host, _, port = text.partition(":")
    address = _address(host)
    if address is None or (port is not None and not _PORT.fullmatch(port)):
        return None
    if port is None or port.startswith("_"):
        return address, 0
    number = int(port)
    return (address, number) if number <= 65535 else None


def _client_hop(hops: list[tuple[Address, int] | None], trusted: Sequence[Network]) -> tuple[int, Address, int] | None:
    """The client among the hops (its index, address and port), walking from the right; None to
    keep the peer."""
    for index in range(len(hops) - 1, -1, -1):
        hop = hops[index]
        if hop is None:
            return None
        if not _within(hop[0], trusted) or index == 0:
            return index, hop[0], hop[1]
    return None


def _forwarded_elements(value: str) -> list[dict[str, str]] | None:
    """RFC 7239 elements as {lowercased name: unquoted value}; None when the header does not parse.

    Empty list elements (`a, , b`) are dropped, as HTTP's list syntax allows them."""
    elements: list[dict[str, str]] = [{}]
    position = 0
    while True:
        pair = _PAIR.match(value, position)
        if pair is not None:
            name, raw = pair[1].lower(), pair[2]
            if name in elements[-1]:
                return None  # a parameter may appear once per element
            elements[-1][name] = _ESCAPE.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw
            position = pair.end()
        while position < len(value) and value[position].isspace():
            position += 1
        if position == len(value):
            break
        if value[position] == ",":
            elements.append({})
        elif value[position] != ";":
            return None
        position += 1
    return [element for element in elements if element] or None


def _single_scheme(values: list[str]) -> str | None:
    if len(values) != 1:
        return None
    return _SCHEMES.get(values[0].strip().lower())
