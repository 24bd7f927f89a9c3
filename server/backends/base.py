"""The contract every cache / fan-out backend keeps. Channel names, encoding and fan-out to
sockets live in `server.hub`; a backend only stores and moves bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator


class Backend(ABC):
    """Where snapshots are cached, kept as a short history, and published to every instance.

    Implementations raise `server.errors.BackendUnavailable` (never a driver exception) when the
    store cannot be reached, so callers can degrade instead of failing.
    """

    name: str

    async def connect(self) -> None:  # noqa: B027 - optional hook; the memory backend needs none
        """Open connections; called once by the app's lifespan before anything else."""

    async def disconnect(self) -> None:  # noqa: B027 - optional hook
        """Close connections and end every open `subscribe` iterator."""

    @abstractmethod
    async def ping(self) -> None:
        """Return when the store answers; raise BackendUnavailable when it does not."""

    @abstractmethod
    async def set_snapshot(self, key: str, payload: bytes, ttl: float) -> None:
        """Cache `payload` under `key` for `ttl` seconds (the spec's 10 s snapshot cache)."""

    @abstractmethod
    async def get_snapshot(self, key: str) -> bytes | None:
        """The cached payload, or None once its TTL has passed."""

    @abstractmethod
    async def push_history(self, key: str, payload: bytes, size: int) -> None:
        """Append `payload` to the list at `key`, keeping only the newest `size` entries."""

    @abstractmethod
    async def history(self, key: str) -> list[bytes]:
        """The list at `key`, oldest first."""

    @abstractmethod
    async def publish(self, channel: str, message: bytes) -> None:
        """Deliver `message` to every current subscriber of `channel`, on every instance."""

    @abstractmethod
    def subscribe(self, channel: str) -> AsyncIterator[bytes]:
        """Messages published to `channel` from now on; ends when the backend disconnects.

        A subscriber that cannot keep up loses the oldest messages, never blocks publishers.
        """
