"""The snapshot loop: on the lease holder, compute a snapshot every interval; everywhere, keep what
is served fresh or say that it is not.

- The holder of the database lease (`server.leadership`) computes, writes the snapshot to the
  log under a database-allocated id, and publishes it (`SnapshotHub.publish`). It renews the
  lease twice an interval; the others try for it four times an interval, so one of them takes
  over within two intervals when the holder dies.
- The others take the holder's snapshots from the Redis channel and, when one is late (Redis
  away, pub/sub cut, the in-process backend of a second sidecar on one SQLite file), read them
  from the snapshot log: every instance serves the same ids, with the same bytes, at the usual
  cadence.
- A refresh that fails marks the last snapshot stale on every instance at once; a snapshot older
  than two intervals is stale anyway, whatever this loop does (`SnapshotHub.watch`). Failures
  are logged once with a count.

Time comes from `clock` (what "now" means to the metrics), `monotonic` and `sleep`, so tests can
drive the schedule without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from server.alerts.monitor import AlertMonitor
from server.errors import DatabaseUnavailable
from server.failures import RepeatingFailures
from server.hub import SnapshotHub
from server.leadership import Leadership
from server.metrics import compute_snapshot, period_starts
from server.observability import SidecarMetrics
from server.settings import Settings
from server.snapshot import Snapshot
from server.storage import snapshot_log
from server.storage.lease import LeaseLost
from server.storage.maintenance import maintain_derived
from server.storage.pace_users import PaceUsers
from server.storage.snapshot_inputs import read_snapshot_inputs

log = logging.getLogger("server.snapshots")

FOLLOW_LATE_AFTER = 1.1  # intervals: a follower reads the log once the next snapshot is this late


def utc_now() -> datetime:
    return datetime.now(UTC)


class SnapshotLoop:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        hub: SnapshotHub,
        leadership: Leadership,
        *,
        observability: SidecarMetrics,
        alerts: AlertMonitor | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.hub = hub
        self.leadership = leadership
        self.observability = observability
        self.alerts = alerts
        self._clock = clock
        self._monotonic = monotonic
        self._stopping = asyncio.Event()
        self._sleep = sleep or self._sleep_unless_stopped
        self._refresh_lock = asyncio.Lock()
        self.failures = RepeatingFailures(log, monotonic=monotonic)
        self.last_compute_seconds = 0.0
        self.pace_users = PaceUsers()

    async def start(self) -> None:
        """Load the kept snapshots from the log, then compute the first one if this instance leads."""
        kept = await snapshot_log.after(self.engine, 0, self.settings.history_size)
        self.hub.prefill([Snapshot.from_encoded(payload.encode()) for payload in kept])
        if self.alerts is not None:
            await self.alerts.start()
        if await self._renew():
            await self.refresh()

    async def run(self) -> None:
        """Until `stop()`: renew or try for the lease, compute on time while holding it, follow otherwise."""
        interval = self.settings.interval
        now = self._monotonic()
        next_tick = now + interval
        next_lease = now + interval / (2 if self.leadership.leading else 4)
        while not self._stopping.is_set():
            leading = self.leadership.leading
            wake = min(next_tick if leading else math.inf, next_lease, now + interval / 4)
            await self._sleep(max(0.0, wake - now))
            if self._stopping.is_set():
                return
            now = self._monotonic()
            if now >= next_lease:
                was_leading = leading
                leading = await self._renew()
                next_lease = now + interval / (2 if leading else 4)
                if leading and not was_leading:
                    log.info("this instance now computes the snapshots")
                    next_tick = now  # at once: the previous holder's last snapshot is already late
            if leading and now >= next_tick:
                next_tick += interval
                if next_tick < now:  # a slow computation: skip the ticks it overran
                    next_tick = now + interval
                await self.refresh()
            elif not self.leadership.leading:
                await self._follow()

    def stop(self) -> None:
        """Ask `run()` to return once the snapshot in progress, if any, is done.

        Cancelling a database call half-way can leave an asyncpg connection waiting forever,
        so the loop is stopped between snapshots instead.
        """
        self._stopping.set()

    async def refresh(self) -> Snapshot | None:
        """Compute, write and publish a snapshot now, as the lease holder; None when this
        instance does not hold the lease or the refresh failed (the last one is then stale)."""
        async with self._refresh_lock:
            if not self.leadership.leading and not await self._renew():
                return None
            now = self._clock()
            started = time.perf_counter()
            try:
                snapshot = await self._compute(now)
            except LeaseLost:
                self.leadership.lost()
                log.info("another instance computes the snapshots now")
                return None
            except Exception as exc:
                self.observability.snapshots.labels("failed").inc()
                self.failures.failed("snapshot refresh", exc, expected=isinstance(exc, DatabaseUnavailable))
                await self.hub.publish_failure()
                return None
            self.failures.recovered("snapshot refresh")
            self.observability.snapshots.labels("computed").inc()
            self.last_compute_seconds = time.perf_counter() - started
            self.observability.compute_seconds.observe(self.last_compute_seconds)
            await self.hub.publish(snapshot, age=self.last_compute_seconds)
            if self.alerts is not None:
                await self._check_alerts(snapshot.data, now)
            await self._refresh_pace_users(now)
            return snapshot

    async def _compute(self, now: datetime) -> Snapshot:
        periods = period_starts(now, self.settings.zone)
        # Read in one transaction and write the log in another that takes SQLite's write lock up
        # front: a read transaction that later writes fails at once ("database is locked") when
        # an ingest commits in between, whatever the busy timeout.
        async with self.engine.begin() as conn:
            inputs = await read_snapshot_inputs(conn, periods, now, self.settings.zone, self.pace_users)
        await self._maintain(now)
        built: list[Snapshot] = []

        def build(snapshot_id: int) -> tuple[str, int]:
            built.append(Snapshot.from_data(compute_snapshot(inputs, now, snapshot_id)))
            return built[-1].encoded.decode(), inputs.active_current

        epoch = self.leadership.epoch
        if epoch is None:
            raise LeaseLost("the lease ran out before the snapshot was written")
        sent = self._monotonic()
        await snapshot_log.append(
            self.engine,
            holder=self.leadership.holder,
            epoch=epoch,
            ttl=self.leadership.ttl,
            computed_at=now,
            build=build,
        )
        self.leadership.renewed(sent)
        return built[-1]

    async def _maintain(self, now: datetime) -> None:
        """Fold and prune the derived tables after the read, as their only maintainer. A failure
        is logged and the snapshot goes on: the reads are exact whatever state they are in."""
        try:
            await maintain_derived(self.engine, now, self.settings.zone)
        except Exception as exc:
            self.failures.failed("derived-data maintenance", exc, expected=isinstance(exc, DatabaseUnavailable))
        else:
            self.failures.recovered("derived-data maintenance")

    async def _refresh_pace_users(self, now: datetime) -> None:
        """Re-read pace's first-moment lists that are due, after the snapshot is out (it is not
        late for them). A failure is logged; the reads count those days plainly meanwhile."""
        try:
            await self.pace_users.refresh(self.engine, now, self.settings.zone)
        except Exception as exc:
            self.failures.failed("pace first-moment lists", exc, expected=isinstance(exc, DatabaseUnavailable))
        else:
            self.failures.recovered("pace first-moment lists")

    async def _renew(self) -> bool:
        try:
            leading = await self.leadership.renew()
        except Exception as exc:
            self.failures.failed("snapshot lease", exc, expected=isinstance(exc, DatabaseUnavailable))
            return self.leadership.leading
        self.failures.recovered("snapshot lease")
        return leading

    async def _follow(self) -> None:
        """Read the holder's newer snapshots from the log when the relay has not brought them on time."""
        age = self.hub.age()
        if age is not None and age <= FOLLOW_LATE_AFTER * self.settings.interval:
            return
        after = self.hub.latest.id if self.hub.latest is not None else 0
        try:
            payloads = await snapshot_log.after(self.engine, after, self.settings.history_size)
        except Exception as exc:
            down = isinstance(exc, DatabaseUnavailable)
            self.failures.failed("reading snapshots from the database", exc, expected=down)
            return
        self.failures.recovered("reading snapshots from the database")
        self.hub.take_from_storage([Snapshot.from_encoded(payload.encode()) for payload in payloads])

    async def _check_alerts(self, data: dict[str, Any], now: datetime) -> None:
        assert self.alerts is not None
        try:
            await self.alerts.check(data, self.last_compute_seconds, now)
        except Exception as exc:
            self.failures.failed("alert evaluation", exc, expected=isinstance(exc, DatabaseUnavailable))
        else:
            self.failures.recovered("alert evaluation")

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
