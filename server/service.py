"""The metrics service: ingestion and the spec's Python API.

`realtimeMetricsService` of the spec, for code running beside the sidecar:
`track_user_activity`, `track_content_view`, `record_transaction`, `get_metrics`; and ours,
`describe_content` (the catalogue). The snapshots
themselves are computed by `server.snapshot_loop`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from server.alerts.monitor import AlertMonitor
from server.backends.base import Backend
from server.errors import DatabaseUnavailable, Unavailable
from server.events import validate_events
from server.hub import SnapshotHub
from server.observability import SidecarMetrics
from server.settings import Settings
from server.snapshot_loop import utc_now
from server.storage.ingest import IngestResult, store_events


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

    def now(self) -> datetime:
        """What "now" is for this service (a fixed clock in tests)."""
        return self._clock()

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
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable("the database cannot be reached; nothing was stored, retry later") from exc

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

    async def describe_content(
        self, content_id: str, *, title: str | None = None, category: str | None = None
    ) -> IngestResult:
        """The catalogue's description of a content (ours): the latest one wins."""
        return await self.ingest(_event("content", contentId=content_id, title=title, category=category))

    async def get_metrics(self) -> dict[str, Any]:
        """The latest snapshot, as served over REST (money and the rate as Decimals; `stale` as now)."""
        current = self.hub.current()
        if current is None:
            raise Unavailable("no snapshot has been computed yet")
        return current.data


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    event = {"type": kind, **{k: v for k, v in fields.items() if v is not None}}
    if isinstance(event.get("amount"), Decimal):
        event["amount"] = str(event["amount"])
    return event
