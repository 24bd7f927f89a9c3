"""Redis backend (redis-py asyncio): cache, history and cross-instance pub/sub."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.backends.base import Backend
from server.errors import BackendUnavailable

# Options of every connection to a Redis server, reached directly or found through Sentinel.
CLIENT_OPTIONS: dict[str, Any] = {
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    "health_check_interval": 10,
    "retry_on_timeout": False,
}


class RedisBackend(Backend):
    name = "redis"

    def __init__(self, url: str) -> None:
        self._url = url
        self._redis: aioredis.Redis | None = None

    @property
    def redis(self) -> aioredis.Redis:
        assert self._redis is not None, "RedisBackend used before connect()"
        return self._redis

    async def connect(self) -> None:
        self._redis = self._open()

    def _open(self) -> aioredis.Redis:
        """The client every command and subscription goes through (a Sentinel-managed one in `SentinelBackend`)."""
        return aioredis.Redis.from_url(self._url, **CLIENT_OPTIONS)

    async def disconnect(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def set_snapshot(self, key: str, payload: bytes, ttl: float) -> None:
        try:
            await self.redis.set(key, payload, px=int(ttl * 1000))
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def get_snapshot(self, key: str) -> bytes | None:
        try:
            return cast("bytes | None", await self.redis.get(key))  # bytes: the client does not decode
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def push_history(self, key: str, payload: bytes, size: int) -> None:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, payload)
                pipe.ltrim(key, -size, -1)
                await pipe.execute()
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def history(self, key: str) -> list[bytes]:
        try:
            return cast("list[bytes]", await self.redis.lrange(key, 0, -1))
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def publish(self, channel: str, message: bytes) -> None:
        try:
            await self.redis.publish(channel, message)
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def subscribe(self, channel: str) -> AsyncIterator[bytes]:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "message":
                    yield message["data"]
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc
        finally:
            with contextlib.suppress(RedisError):
                await pubsub.aclose()
