"""Whether this instance computes the snapshots: the database's lease, taken and renewed.

One instance holds the `snapshots` lease (`server.storage.lease`) and computes; the others
relay what it computes. The lease is judged where the snapshots are written, so an outage of
Redis changes nothing about who computes, and two sidecars on one SQLite file share the work
the same way as many on one PostgreSQL.

This instance counts itself the holder only until the lease would expire if its last renewal
had reached the database at the moment it was sent: it stops believing it leads no later than
the database stops saying so.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage import lease

LEASE_INTERVALS = 1.5  # the lease lasts this many intervals after each renewal


class Leadership:
    def __init__(
        self, engine: AsyncEngine, interval: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self.ttl = LEASE_INTERVALS * interval
        self._monotonic = monotonic
        self.holder = uuid.uuid4().hex
        self.epoch: int | None = None
        self._until = 0.0

    @property
    def leading(self) -> bool:
        return self.epoch is not None and self._monotonic() < self._until

    async def renew(self) -> bool:
        """Take the lease, or renew it; True while this instance holds it.

        A database error propagates; the lease then runs out here when it would in the database.
        """
        sent = self._monotonic()
        epoch = await lease.acquire(self._engine, self.holder, self.ttl)
        if epoch is None:
            self.epoch = None
        else:
            self.epoch = epoch
            self._until = sent + self.ttl
        return self.leading

    def renewed(self, sent: float) -> None:
        """A write fenced by the lease (which renews it) committed; it was sent at `sent`."""
        if self.epoch is not None:
            self._until = max(self._until, sent + self.ttl)

    def lost(self) -> None:
        """Another instance holds the lease now."""
        self.epoch = None

    async def release(self) -> None:
        """Give the lease up (on shutdown), so that another instance takes over at once."""
        if self.epoch is not None:
            self.epoch = None
            await lease.release(self._engine, self.holder)
