"""Redis behind Sentinel: the same backend as `redis.py`, on whichever server the sentinels name
as primary.

    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db][?sentinel_password=...]

The hosts are the sentinels (port 26379 unless given), `service` the name they monitor the
primary under (`sentinel monitor <service> ...`), `db` the database number (0 unless given).
The user and password in front are the Redis servers'; sentinels that require a password of
their own get `sentinel_password`. Percent-encode `@`, `:`, `/` or `?` inside a password.

Each new connection asks the sentinels for the primary's address first. After a failover the
connections to the old primary fail (and are closed, as is one to a primary demoted to a
replica, at its first write); the commands and subscriptions made after that reach the new
primary. Until the sentinels have promoted one, commands fail with BackendUnavailable like
those of a Redis that is down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel

from server.backends.redis import CLIENT_OPTIONS, RedisBackend
from server.errors import ConfigurationError

SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379
_SENTINEL_QUERY_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}


@dataclass(frozen=True)
class SentinelTarget:
    """What a `redis+sentinel://` URL names."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Read a `redis+sentinel://` URL; ConfigurationError (never showing a password) when it is wrong."""
    prefix = f"{SCHEME}://"
    if not url.startswith(prefix):
        raise ConfigurationError(f"REDIS_URL must start with {prefix} to name Redis Sentinels")
    rest, _, query = url[len(prefix) :].partition("?")
    location, _, path = rest.partition("/")
    userinfo, at, hosts = location.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    sentinels = tuple(_host_and_port(host) for host in hosts.split(","))
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise ConfigurationError(
            f"REDIS_URL names no Sentinel service: use {prefix}host:26379[,host:26379...]/<service>[/db]"
        )
    if db and not db.isdigit():
        raise ConfigurationError(f"REDIS_URL database must be a number, got {db!r}")
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"sentinel_password"})
    if unknown:
        raise ConfigurationError(f"REDIS_URL option(s) not supported with Sentinel: {', '.join(unknown)}")
    sentinel_password = options.get("sentinel_password", [""])[-1] or None
    return SentinelTarget(sentinels, unquote(service), int(db or 0), username, password, sentinel_password)


def _host_and_port(raw: str) -> tuple[str, int]:
    if raw.startswith("["):  # an IPv6 address: [::1]:26379
        host, _, after = raw[1:].partition("]")
        port = after.removeprefix(":")
    else:
        host, _, port = raw.partition(":")
    if not host:
        raise ConfigurationError(f"REDIS_URL lists a Sentinel without a host: {raw!r}")
    if not port:
        return host, DEFAULT_SENTINEL_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"REDIS_URL lists a Sentinel with an invalid port: {raw!r}")
    return host, int(port)


class SentinelBackend(RedisBackend):
    name = "redis-sentinel"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.target = parse_sentinel_url(url)  # at startup: a mistake in the URL stops the sidecar
        self._sentinel: Sentinel | None = None

    def _open(self) -> aioredis.Redis:
        target = self.target
        self._sentinel = Sentinel(
            list(target.sentinels),
            sentinel_kwargs={**_SENTINEL_QUERY_OPTIONS, "password": target.sentinel_password},
        )
        master: aioredis.Redis = self._sentinel.master_for(
            target.service, db=target.db, username=target.username, password=target.password, **CLIENT_OPTIONS
        )
        return master

    async def disconnect(self) -> None:
        await super().disconnect()
        if self._sentinel is not None:
            await self._sentinel.aclose()
