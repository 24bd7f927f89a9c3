"""In-process backend: the default when no REDIS_URL is set (one sidecar process)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator

from server.backends.base import Backend

_SUBSCRIBER_QUEUE = 64


class MemoryBackend(Backend):
    name = "memory"

    def __init__(self, url: str = "memory://") -> None:
        self._cache: dict[str, tuple[float, bytes]] = {}
        self._lists: dict[str, deque[bytes]] = {}
        self._subscribers: dict[str, set[asyncio.Queue[bytes | None]]] = {}

    async def disconnect(self) -> None:
        for queues in self._subscribers.values():
            for queue in queues:
                _put_dropping_oldest(queue, None)

    async def ping(self) -> None:
        return None

    async def set_snapshot(self, key: str, payload: bytes, ttl: float) -> None:
        self._cache[key] = (time.monotonic() + ttl, payload)

    async def get_snapshot(self, key: str) -> bytes | None:
        entry = self._cache.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    async def push_history(self, key: str, payload: bytes, size: int) -> None:
        entries = self._lists.get(key)
        if entries is None or entries.maxlen != size:
            entries = self._lists[key] = deque(entries or (), maxlen=size)
        entries.append(payload)

    async def history(self, key: str) -> list[bytes]:
        return list(self._lists.get(key, ()))

    async def publish(self, channel: str, message: bytes) -> None:
        for queue in self._subscribers.get(channel, ()):
            _put_dropping_oldest(queue, message)

    async def subscribe(self, channel: str) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(_SUBSCRIBER_QUEUE)
        self._subscribers.setdefault(channel, set()).add(queue)
        try:
            while (message := await queue.get()) is not None:
                yield message
        finally:
            self._subscribers[channel].discard(queue)


def _put_dropping_oldest(queue: asyncio.Queue[bytes | None], message: bytes | None) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)
