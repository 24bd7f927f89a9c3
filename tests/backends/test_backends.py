"""The backend contract, the same tests over the in-process and the Redis backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from server.backends import create_backend
from server.backends.base import Backend
from server.errors import BackendUnavailable, ConfigurationError
from server.settings import Settings


@pytest.fixture
async def backend(settings: Settings) -> AsyncIterator[Backend]:
    instance = create_backend(settings.redis_url)
    await instance.connect()
    yield instance
    await instance.disconnect()


@pytest.fixture
def key(settings: Settings) -> str:
    return settings.redis_prefix + "k"


async def test_the_snapshot_cache_expires_after_its_ttl(backend: Backend, key: str) -> None:
    await backend.set_snapshot(key, b"one", ttl=0.3)
    assert await backend.get_snapshot(key) == b"one"
    await asyncio.sleep(0.4)
    assert await backend.get_snapshot(key) is None


async def test_history_keeps_the_newest_entries_oldest_first(backend: Backend, key: str) -> None:
    for i in range(5):
        await backend.push_history(key, str(i).encode(), size=3)
    assert await backend.history(key) == [b"2", b"3", b"4"]


async def test_published_messages_reach_every_subscriber(backend: Backend, key: str) -> None:
    async def first_two() -> list[bytes]:
        received = []
        async for message in backend.subscribe(key):
            received.append(message)
            if len(received) == 2:
                return received
        return received

    readers = [asyncio.create_task(first_two()) for _ in range(2)]
    await asyncio.sleep(0.3)  # let both subscriptions register
    await backend.publish(key, b"a")
    await backend.publish(key, b"b")
    assert await asyncio.wait_for(asyncio.gather(*readers), timeout=5) == [[b"a", b"b"], [b"a", b"b"]]


async def test_an_unreachable_redis_raises_backend_unavailable() -> None:
    backend = create_backend("redis://127.0.0.1:1/0")
    await backend.connect()
    try:
        with pytest.raises(BackendUnavailable):
            await backend.ping()
        with pytest.raises(BackendUnavailable):
            await backend.set_snapshot("k", b"x", ttl=1)
    finally:
        await backend.disconnect()


def test_an_unknown_scheme_is_refused_loudly() -> None:
    with pytest.raises(ConfigurationError, match="REDIS_URL scheme 'memcached'"):
        create_backend("memcached://localhost")
