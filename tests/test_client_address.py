"""The client's address: a proxy's X-Forwarded-For / Forwarded is believed only from a trusted peer,
walked from the right past trusted proxies; anything malformed keeps the peer. The rate limiter and
the socket cap count the resolved address."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from server.app import create_app
from server.client_address import Network, parse_networks, resolve_client
from server.settings import Settings
from tests.support.helpers import LocalClient
from tests.support.live import serve

TRUSTED: tuple[Network, ...] = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("127.0.0.1/32"),
    ipaddress.ip_network("2001:db8:ffff::/48"),
)
PROXY = ("10.0.0.5", 40000)
STRANGER = ("203.0.113.5", 40000)


def _resolve(peer: tuple[str, int], *headers: tuple[str, str]) -> tuple[str, int, str | None]:
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    resolved = resolve_client(peer, raw, TRUSTED)
    return resolved.host, resolved.port, resolved.scheme


def test_a_forged_header_from_an_untrusted_peer_is_ignored() -> None:
    for header in ("X-Forwarded-For", "Forwarded"):
        value = "198.51.100.7" if header == "X-Forwarded-For" else "for=198.51.100.7;proto=https"
        assert _resolve(STRANGER, (header, value), ("X-Forwarded-Proto", "https")) == ("203.0.113.5", 40000, None)


def test_nothing_is_believed_when_no_proxy_is_trusted() -> None:
    resolved = resolve_client(("127.0.0.1", 5000), [(b"x-forwarded-for", b"198.51.100.7")], ())
    assert (resolved.host, resolved.port) == ("127.0.0.1", 5000)


def test_a_trusted_proxy_names_the_client() -> None:
    assert _resolve(PROXY, ("X-Forwarded-For", "198.51.100.7")) == ("198.51.100.7", 0, None)
    assert _resolve(("127.0.0.1", 1), ("X-Forwarded-For", " 198.51.100.7 ")) == ("198.51.100.7", 0, None)


def test_the_walk_goes_from_the_right_past_trusted_proxies_only() -> None:
    # The client forged the leftmost entry; the first proxy appended the address it saw.
    chain = "6.6.6.6, 198.51.100.7, 10.1.1.1, 10.2.2.2"
    assert _resolve(PROXY, ("X-Forwarded-For", chain))[0] == "198.51.100.7"
    # Several header lines are one list, in order.
    assert _resolve(PROXY, ("X-Forwarded-For", "6.6.6.6, 198.51.100.7"), ("X-Forwarded-For", "10.1.1.1"))[0] == (
        "198.51.100.7"
    )


def test_a_chain_of_only_trusted_proxies_began_at_the_leftmost() -> None:
    assert _resolve(PROXY, ("X-Forwarded-For", "10.9.9.9, 10.1.1.1"))[0] == "10.9.9.9"


def test_forwarded_names_the_client_with_its_port_and_scheme() -> None:
    assert _resolve(PROXY, ("Forwarded", "for=198.51.100.7;proto=https;by=10.0.0.5")) == ("198.51.100.7", 0, "https")
    assert _resolve(PROXY, ("Forwarded", 'for="198.51.100.7:4711"')) == ("198.51.100.7", 4711, None)
    # Names are case-insensitive; an element's pairs come in any order; the walk is from the right.
    value = 'For=6.6.6.6, proto=http;FOR=198.51.100.7, for="10.1.1.1";proto=https'
    assert _resolve(PROXY, ("Forwarded", value)) == ("198.51.100.7", 0, "http")
    assert _resolve(PROXY, ("Forwarded", "for=198.51.100.7"), ("Forwarded", "for=10.1.1.1")) == (
        "198.51.100.7",
        0,
        None,
    )


def test_forwarded_ipv6_is_quoted_and_bracketed() -> None:
    assert _resolve(PROXY, ("Forwarded", 'for="[2001:db8::1]:4711"')) == ("2001:db8::1", 4711, None)
    assert _resolve(PROXY, ("Forwarded", 'for="[2001:DB8:0::1]"')) == ("2001:db8::1", 0, None)  # one spelling
    assert _resolve(PROXY, ("Forwarded", 'for="[2001:db8::1]:_port9"')) == ("2001:db8::1", 0, None)
    assert _resolve(PROXY, ("X-Forwarded-For", "2001:db8::1, 2001:db8:ffff::2"))[0] == "2001:db8::1"
    assert _resolve(("2001:db8:ffff::9", 1), ("X-Forwarded-For", "[2001:db8::1]:80")) == ("2001:db8::1", 80, None)


def test_an_ipv4_peer_on_a_dual_stack_listener_is_trusted_as_ipv4() -> None:
    assert _resolve(("::ffff:10.0.0.5", 1), ("X-Forwarded-For", "198.51.100.7"))[0] == "198.51.100.7"


@pytest.mark.parametrize(
    "value",
    ["for=unknown", 'for="_hidden"', "for=_hidden, for=10.1.1.1", "by=10.1.1.1", "for=198.51.100.7, for=unknown"],
)
def test_an_unknown_or_obfuscated_client_keeps_the_peer(value: str) -> None:
    assert _resolve(PROXY, ("Forwarded", value)) == ("10.0.0.5", 40000, None)


def test_an_unknown_hop_ends_the_walk_even_behind_a_real_address() -> None:
    # Who stands behind `unknown` cannot be known: not the forged address to its left either.
    assert _resolve(PROXY, ("Forwarded", "for=6.6.6.6, for=unknown, for=10.1.1.1"))[0] == "10.0.0.5"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Forwarded-For", ""),
        ("X-Forwarded-For", "not-an-address"),
        ("X-Forwarded-For", "198.51.100.7, "),
        ("X-Forwarded-For", "198.51.100.7, ::ffff:zz"),
        ("X-Forwarded-For", "198.51.100.7:99999"),
        ("X-Forwarded-For", "198.51.100.7:"),
        ("X-Forwarded-For", "[2001:db8::1"),
        ("X-Forwarded-For", "[2001:db8::1]x"),
        ("X-Forwarded-For", "\x00\xff" * 50),
        ("Forwarded", 'for="198.51.100.7'),
        ("Forwarded", "for=198.51.100.7 junk"),
        ("Forwarded", "for=198.51.100.7;for=198.51.100.8"),
        ("Forwarded", "198.51.100.7"),
        ("Forwarded", "for="),
        ("Forwarded", ",,,"),
        ("Forwarded", 'for="\\'),
    ],
)
def test_a_malformed_header_keeps_the_peer(header: str, value: str) -> None:
    assert _resolve(PROXY, (header, value))[:2] == ("10.0.0.5", 40000)


def test_x_forwarded_for_wins_over_forwarded() -> None:
    # A proxy that writes X-Forwarded-For passes a client's own Forwarded on untouched.
    both = (("X-Forwarded-For", "198.51.100.7"), ("Forwarded", "for=6.6.6.6"))
    assert _resolve(PROXY, *both)[0] == "198.51.100.7"


def test_the_scheme_comes_from_one_x_forwarded_proto() -> None:
    assert _resolve(PROXY, ("X-Forwarded-For", "198.51.100.7"), ("X-Forwarded-Proto", "HTTPS"))[2] == "https"
    assert _resolve(PROXY, ("X-Forwarded-Proto", "https")) == ("10.0.0.5", 40000, "https")
    assert _resolve(PROXY, ("X-Forwarded-Proto", "https, http"))[2] is None  # whose is it?
    assert _resolve(PROXY, ("X-Forwarded-Proto", "gopher"))[2] is None


def test_trusted_proxies_are_addresses_and_cidr_blocks() -> None:
    assert parse_networks(" 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32,, 10.1.2.3/16") == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.1/32"),
        ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("10.1.0.0/16"),
    )
    with pytest.raises(ValueError, match="'nginx' is not an IP address or CIDR block"):
        parse_networks("10.0.0.1, nginx")


def _settings(tmp_path: Path, trusted: str, **values: object) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'metrics.db'}",
        embedded=False,
        interval=0.2,
        trusted_proxies=parse_networks(trusted),
        **values,  # type: ignore[arg-type]
    )


def _statuses(client: TestClient, *forged: str) -> list[int]:
    url = "/api/v1/analytics/realtime-metrics"
    return [client.get(url, headers={"X-Forwarded-For": address}).status_code for address in forged]


def test_the_rate_limit_counts_the_client_a_trusted_proxy_names(tmp_path: Path) -> None:
    # One request per address, then 429 for two seconds.
    app = create_app(_settings(tmp_path, "10.0.0.0/8", requests_per_second=0.5))
    with LocalClient(app, client=PROXY) as client:
        assert _statuses(client, "198.51.100.7", "198.51.100.8", "198.51.100.7") == [200, 200, 429]
        assert client.get("/api/v1/analytics/realtime-metrics").status_code == 200  # the proxy's own bucket


def test_the_rate_limit_ignores_the_header_from_an_untrusted_peer(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, "10.0.0.0/8", requests_per_second=0.5))
    with LocalClient(app, client=STRANGER) as client:
        assert _statuses(client, "198.51.100.7", "198.51.100.8") == [200, 429]


def test_the_socket_cap_counts_the_client_a_trusted_proxy_names(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, "10.0.0.0/8", sockets_per_address=2))
    with LocalClient(app, client=PROXY) as client:
        first = {"Forwarded": "for=198.51.100.7"}
        with (
            client.websocket_connect("/ws/metrics", headers=first),
            client.websocket_connect("/ws/metrics", headers={"X-Forwarded-For": "198.51.100.7"}),
        ):
            with (
                pytest.raises(WebSocketDenialResponse) as refused,
                client.websocket_connect("/ws/metrics", headers=first),
            ):
                pass
            assert refused.value.status_code == 429
            # Another client behind the same proxy has its own count.
            with client.websocket_connect("/ws/metrics", headers={"X-Forwarded-For": "198.51.100.8"}) as other:
                assert json.loads(other.receive_text())["type"] == "metrics"


def test_the_scheme_a_trusted_proxy_names_reaches_the_app(tmp_path: Path) -> None:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    app = create_app(_settings(tmp_path, "10.0.0.0/8"))

    async def where(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{request.url.scheme} {request.client.host if request.client else ''}")

    app.router.routes.insert(0, Route("/__where", where))
    with LocalClient(app, client=PROXY) as client:
        answer = client.get("/__where", headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"})
        assert answer.text == "https 198.51.100.7"
    with LocalClient(app, client=STRANGER) as client:
        answer = client.get("/__where", headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"})
        assert answer.text == "http 203.0.113.5"


def test_uvicorn_believes_no_forged_header_from_loopback(tmp_path: Path) -> None:
    """uvicorn's own default would take X-Forwarded-For from 127.0.0.1; the sidecar trusts no one
    unless told, so forged headers on a direct connection share one budget and one cap."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    settings = _settings(tmp_path, "", requests_per_second=0.5, sockets_per_address=2)
    with serve(settings) as address, httpx.Client(base_url=f"http://{address}", trust_env=False) as http:
        url = "/api/v1/analytics/realtime-metrics"
        first = http.get(url, headers={"X-Forwarded-For": "198.51.100.7"})
        second = http.get(url, headers={"Forwarded": "for=198.51.100.8"})
        assert (first.status_code, second.status_code) == (200, 429)
        sockets = f"ws://{address}/ws/metrics"
        with (
            connect(sockets, additional_headers={"X-Forwarded-For": "198.51.100.7"}),
            connect(sockets, additional_headers={"X-Forwarded-For": "198.51.100.8"}),
        ):
            with pytest.raises(InvalidStatus) as refused:
                connect(sockets, additional_headers={"X-Forwarded-For": "198.51.100.9"})
            assert refused.value.response.status_code == 429
