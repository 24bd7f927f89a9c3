"""The live top content: for sockets that subscribed (`?top=1`, or `{"type": "subscribe", "top": true}`),
the top content and categories of the last 5 minutes and of today, pushed every interval.

Each instance computes it from the database for its own subscribers, once per interval and only
while it has any: one frame, encoded once, offered to every subscriber (a reply of its outbox,
bounded like every reply). Clients that do not subscribe get nothing more; the snapshot is not
touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from metrics_client.protocol import MessageType
from server.analytics import ranking
from server.analytics.buckets import _midnight
from server.errors import DatabaseUnavailable
from server.metrics import encode, format_timestamp
from server.storage import catalogue, rollups
from server.storage.history import ContentFigures

log = logging.getLogger("server.live_top")

TOP_LIMIT = 10  # items per list: a frame stays small whatever the catalogue holds
RECENT = timedelta(minutes=5)


class TopSubscriber(Protocol):
    def offer_reply(self, frame: str) -> bool: ...


class TopFeed:
    def __init__(
        self,
        engine: AsyncEngine,
        zone: ZoneInfo,
        interval: float,
        clock: Callable[[], datetime],
        limit: int = TOP_LIMIT,
    ) -> None:
        self._engine = engine
        self._zone = zone
        self._interval = interval
        self._clock = clock
        self._limit = limit
        self._subscribers: set[TopSubscriber] = set()
        self._latest: tuple[float, str] | None = None  # (monotonic time computed, frame)
        self._wanted = asyncio.Event()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self, subscriber: TopSubscriber) -> None:
        """From now on `subscriber` gets every frame; first the current one, at once if it is fresh,
        else as soon as it is computed."""
        self._subscribers.add(subscriber)
        if self._latest is not None and time.monotonic() - self._latest[0] < self._interval:
            subscriber.offer_reply(self._latest[1])
        else:
            self._wanted.set()

    def unsubscribe(self, subscriber: TopSubscriber) -> None:
        self._subscribers.discard(subscriber)

    async def run(self) -> None:
        """Every interval (or at once for a first subscriber), compute and push; until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), timeout=self._interval)
            self._wanted.clear()
            if not self._subscribers:
                self._latest = None  # nobody asked for a while: a later subscriber gets a fresh one
                continue
            try:
                frame = await self.frame()
            except DatabaseUnavailable as exc:
                log.warning("live top content not computed: %s", exc)
                continue
            except Exception:  # a bug here must not end the feed for good: said, then tried again
                log.exception("live top content not computed")
                continue
            self._latest = (time.monotonic(), frame)
            for subscriber in list(self._subscribers):
                subscriber.offer_reply(frame)

    async def frame(self) -> str:
        """`{"type": "top", "data": {"at", "lastFiveMinutes": {...}, "today": {...}}}`."""
        now = self._clock()
        midnight = _midnight(now.astimezone(self._zone).date(), self._zone)
        async with self._engine.connect() as conn:
            recent = await rollups.content_figures(conn, now - RECENT, now)
            today = await rollups.content_figures(conn, midnight, now)
            # Every content of today needs its category; the 5 minutes are a part of today.
            described = await catalogue.read(conn, (f.content_id for f in [*today, *recent]))
        data = {
            "at": format_timestamp(now),
            "lastFiveMinutes": self._window(recent, described, now - RECENT, now),
            "today": self._window(today, described, midnight, now),
        }
        return encode({"type": MessageType.TOP, "data": data}).decode()

    def _window(
        self,
        figures: list[ContentFigures],
        described: dict[str, catalogue.Description],
        start: datetime,
        end: datetime,
    ) -> dict[str, Any]:
        groups = ranking.by_category(figures, described)
        return {
            "from": format_timestamp(start),
            "to": format_timestamp(end),
            "content": [ranking.content_item(f, described) for f in ranking.top_content(figures, "views", self._limit)],
            "categories": [ranking.category_item(g) for g in ranking.top_categories(groups, "views", self._limit)],
        }
