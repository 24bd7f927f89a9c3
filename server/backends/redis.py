"""Redis backend (redis-py asyncio): cache, history and cross-instance pub/sub."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.backends.base import Backend
from server.errors import BackendUnavailable

# Renew the lease only if we still hold it; take it if nobody does.
_LEASE_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
# Give the lease up only if we hold it.
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisBackend(Backend):
    name = "redis"

    def __init__(self, url: str) -> None:
        self._url = url
        self._redis: aioredis.Redis | None = None
        self._lease: Any = None
        self._release: Any = None

    @property
    def redis(self) -> aioredis.Redis:
        assert self._redis is not None, "RedisBackend used before connect()"
        return self._redis

    async def connect(self) -> None:
        self._redis = aioredis.Redis.from_url(
            self._url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=10, retry_on_timeout=False
        )
        self._lease = self._redis.register_script(_LEASE_SCRIPT)
        self._release = self._redis.register_script(_RELEASE_SCRIPT)

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
            return await self.redis.get(key)
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def push_history(self, key: str, payload: bytes, size: int) -> None:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.rpush(key, payload).ltrim(key, -size, -1).execute()
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def history(self, key: str) -> list[bytes]:
        try:
            return await self.redis.lrange(key, 0, -1)
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

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        try:
            return bool(await self._lease(keys=[key], args=[owner, int(ttl * 1000)]))
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def release_lease(self, key: str, owner: str) -> None:
        try:
            await self._release(keys=[key], args=[owner])
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc
