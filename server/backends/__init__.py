"""Pick a backend by URL scheme; drivers are imported only when their backend is chosen."""

from __future__ import annotations

import importlib

from server.backends.base import Backend
from server.errors import ConfigurationError

_BACKENDS = {
    "memory": "server.backends.memory:MemoryBackend",
    "redis": "server.backends.redis:RedisBackend",
    "rediss": "server.backends.redis:RedisBackend",
    "unix": "server.backends.redis:RedisBackend",
    "redis+sentinel": "server.backends.sentinel:SentinelBackend",
}


def create_backend(url: str | None) -> Backend:
    """`None` (no REDIS_URL) is the in-process backend."""
    url = url or "memory://"
    scheme = url.partition(":")[0].lower()  # a list of sentinels is no netloc urlsplit would accept
    target = _BACKENDS.get(scheme)
    if target is None:
        raise ConfigurationError(
            f"REDIS_URL scheme {scheme!r} is not supported (use redis://, rediss://, unix:// or redis+sentinel://)"
        )
    module_name, class_name = target.split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = backend_class(url)
    return backend


__all__ = ["Backend", "create_backend"]
