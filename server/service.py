"""The metrics service: the snapshot loop, ingestion, and the spec's Python API.

`realtimeMetricsService` of the spec, for code running beside the sidecar:
`track_user_activity`, `track_content_view`, `record_transaction`, `get_metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from server.alerts.monitor import AlertMonitor
from server.backends.base import Backend
from server.errors import BackendUnavailable, Unavailable
from server.events import validate_events
from server.hub import SnapshotHub
from server.metrics import compute_snapshot, mark_stale, period_starts
from server.observability import SidecarMetrics
from server.settings import Settings
from server.snapshot import Snapshot
from server.storage.db import write_connection
from server.storage.ingest import IngestResult, store_events
from server.storage.queries import last_snapshot_id, log_snapshot, recent_payloads
from server.storage.snapshot_inputs import read_snapshot_inputs

log = logging.getLogger("server.service")

# What a lost or refused database connection looks like from SQLAlchemy and the drivers.
_CONNECTION_ERRORS = (PoolTimeout, OSError, asyncio.TimeoutError, ConnectionError)
# SQLite reports a busy or unreadable file as an OperationalError, as it does a bad query.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open", "disk i/o", "readonly", "busy")


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_database_down(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached now (retry later), not that a query is wrong."""
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        return any(marker in str(exc.orig).lower() for marker in _SQLITE_UNAVAILABLE)
    return True


class MetricsService:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        backend: Backend,
        hub: SnapshotHub,
        clock: Callable[[], datetime] = utc_now,
        observability: SidecarMetrics | None = None,
        alerts: AlertMonitor | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.backend = backend
        self.hub = hub
        self._clock = clock
        self.observability = observability or SidecarMetrics()
        self.alerts = alerts
        self._instance = uuid.uuid4().hex
        self._lease_key = f"{settings.redis_prefix}leader"
        self.leading = False
        self._last_id = 0
        self._last_good: dict[str, Any] | None = None
        self._refresh_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self.last_compute_seconds = 0.0

    def now(self) -> datetime:
        """What "now" is for this service (a fixed clock in tests)."""
        return self._clock()

    async def start(self) -> None:
        """Restore the id sequence and history, then compute the first snapshot if this instance leads.

        An instance that does not lead serves the snapshot the leader cached, or the newest in
        the database, until the leader's next one arrives.
        """
        self._last_id = await last_snapshot_id(self.engine)
        kept = await self.hub.load_backend_history()
        if not kept:
            kept = [
                Snapshot.from_encoded(p.encode())
                for p in await recent_payloads(self.engine, self.settings.history_size)
            ]
        self.hub.prefill(kept)
        if self.hub.latest is not None:
            self._last_id = max(self._last_id, self.hub.latest.id)
        if self.alerts is not None:
            await self.alerts.start()
        if await self._leads():
            await self.refresh()

    async def run(self) -> None:
        """Compute a snapshot every interval on the instance holding the lease, until `stop()`.

        The lease lasts 1.5 intervals. The leader renews it twice an interval, so a busy moment
        does not cost it the lease; the others try for it four times an interval, so that one
        takes over within two intervals when the leader dies.
        """
        interval = self.settings.interval
        next_tick = time.monotonic() + interval
        while not self._stopping.is_set():
            step = interval / 2 if self.leading else interval / 4
            wake = min(next_tick, time.monotonic() + step)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, wake - time.monotonic()))
            if self._stopping.is_set():
                return
            due = time.monotonic() >= next_tick
            if due:
                next_tick += interval
                if next_tick < time.monotonic():  # a slow computation: skip the ticks it overran
                    next_tick = time.monotonic() + interval
            try:
                was_leading = self.leading
                if await self._leads() and (due or not was_leading):
                    if not was_leading:
                        log.info("this instance now computes the snapshots")
                        next_tick = time.monotonic() + interval
                    await self.refresh()
            except Exception:
                log.exception("snapshot loop failed; retrying next interval")

    def stop(self) -> None:
        """Ask `run()` to return once the snapshot in progress, if any, is done.

        Cancelling a database call half-way can leave an asyncpg connection waiting forever,
        so the loop is stopped between snapshots instead.
        """
        self._stopping.set()

    async def _leads(self) -> bool:
        try:
            leading = await self.backend.acquire_lease(self._lease_key, self._instance, self.settings.interval * 1.5)
        except BackendUnavailable:
            leading = True  # without Redis every instance computes for its own sockets
        self.leading = leading
        self.observability.leader.set(1 if leading else 0)
        return leading

    async def release(self) -> None:
        """Give the lease up (on shutdown), so that another instance takes over at once."""
        with contextlib.suppress(BackendUnavailable):
            await self.backend.release_lease(self._lease_key, self._instance)
        self.leading = False

    async def refresh(self) -> Snapshot:
        """Compute, keep and publish a snapshot now; on a database failure, re-publish the last good one as stale."""
        async with self._refresh_lock:
            now = self._clock()
            started = time.perf_counter()
            # After a takeover, continue from the newest id any instance published.
            latest_seen = self.hub.latest.id if self.hub.latest is not None else 0
            snapshot_id = max(self._last_id, latest_seen) + 1
            try:
                data = await self._compute(now, snapshot_id)
            except Exception as exc:
                if not is_database_down(exc):
                    raise
                if self._last_good is None:
                    raise Unavailable("the database cannot be reached and no snapshot was computed yet") from exc
                log.error("snapshot refresh failed, serving the last good numbers as stale: %s", _brief(exc))
                data = {**mark_stale(self._last_good), "snapshotId": snapshot_id}
                self.observability.snapshots.labels("stale").inc()
            else:
                self._last_good = data
                self.observability.snapshots.labels("computed").inc()
            self._last_id = snapshot_id
            self.last_compute_seconds = time.perf_counter() - started
            self.observability.compute_seconds.observe(self.last_compute_seconds)
            snapshot = Snapshot.from_data(data)
            await self.hub.publish(snapshot)
            if self.alerts is not None and not data.get("stale"):
                await self._check_alerts(data, now)
            return snapshot

    async def _check_alerts(self, data: dict[str, Any], now: datetime) -> None:
        assert self.alerts is not None
        try:
            await self.alerts.check(data, self.last_compute_seconds, now)
        except Exception as exc:
            if not is_database_down(exc):
                log.exception("alert evaluation failed")
            else:
                log.error("alert evaluation skipped, the database cannot be reached: %s", _brief(exc))

    async def _compute(self, now: datetime, snapshot_id: int) -> dict[str, Any]:
        periods = period_starts(now, self.settings.zone)
        # Read in one transaction and write the log in another that takes SQLite's write lock up
        # front: a read transaction that later writes fails at once ("database is locked") when
        # an ingest commits in between, whatever the busy timeout.
        async with self.engine.begin() as conn:
            inputs = await read_snapshot_inputs(conn, periods, now, self.settings.zone)
        data = compute_snapshot(inputs, now, snapshot_id)
        conn = await write_connection(self.engine)
        try:
            async with conn.begin():
                encoded = Snapshot.from_data(data).encoded.decode()
                await log_snapshot(conn, snapshot_id, now, inputs.active_current, encoded)
        finally:
            await conn.close()
        return data

    # -- ingestion ---------------------------------------------------------------------------

    async def ingest(self, document: Any) -> IngestResult:
        """Validate and store one event or `{"events": [...]}`; raises the contract's errors."""
        now = self._clock()
        events = validate_events(
            document,
            now=now,
            currency=self.settings.currency,
            max_events=self.settings.max_batch_events,
            future_tolerance=timedelta(seconds=self.settings.future_tolerance_s),
        )
        if not events:
            return IngestResult(accepted=0, duplicates=0)
        try:
            return await store_events(self.engine, events, received_at=now, currency=self.settings.currency)
        except Exception as exc:
            if is_database_down(exc):
                raise Unavailable("the database cannot be reached; nothing was stored, retry later") from exc
            raise

    # -- the spec's Python API ---------------------------------------------------------------

    async def track_user_activity(
        self, user_id: str, *, at: datetime | None = None, event_id: str | None = None
    ) -> IngestResult:
        return await self.ingest(_event("user_activity", userId=user_id, at=at, eventId=event_id))

    async def track_content_view(
        self, content_id: str, user_id: str | None = None, *, at: datetime | None = None, event_id: str | None = None
    ) -> IngestResult:
        return await self.ingest(_event("content_view", contentId=content_id, userId=user_id, at=at, eventId=event_id))

    async def record_transaction(
        self,
        transaction_id: str,
        status: str,
        *,
        user_id: str | None = None,
        amount: Decimal | str | None = None,
        content_id: str | None = None,
        currency: str | None = None,
        at: datetime | None = None,
    ) -> IngestResult:
        event = _event(
            "transaction",
            id=transaction_id,
            status=status,
            userId=user_id,
            amount=amount,
            contentId=content_id,
            currency=currency,
            at=at,
        )
        return await self.ingest(event)

    async def get_metrics(self) -> dict[str, Any]:
        """The latest snapshot, as served over REST (money and the rate as Decimals)."""
        if self.hub.latest is None:
            raise Unavailable("no snapshot has been computed yet")
        return self.hub.latest.data


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    event = {"type": kind, **{k: v for k, v in fields.items() if v is not None}}
    if isinstance(event.get("amount"), Decimal):
        event["amount"] = str(event["amount"])
    return event


def _brief(exc: BaseException) -> str:
    """The error's kind and the driver's first line (no SQL, no parameters)."""
    cause = getattr(exc, "orig", None) or exc
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first_line}"[:200]
