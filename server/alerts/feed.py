"""Alert frames to the sockets that asked for them, on every instance.

The computing instance publishes each transition once on the backend's alert channel and
delivers it locally at once; every instance relays what the channel carries to its own
subscribers, each transition at most once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any, Protocol

from metrics_client.protocol import MessageType
from server.backends.base import Backend
from server.errors import BackendUnavailable
from server.metrics import encode

log = logging.getLogger("server.alerts")

_REMEMBERED = 512  # transitions remembered to drop the relayed copy of one delivered locally


class AlertSubscriber(Protocol):
    def offer_reply(self, frame: str) -> bool: ...


class AlertFeed:
    def __init__(self, backend: Backend, prefix: str) -> None:
        self._backend = backend
        self._channel = f"{prefix}alerts"
        self._subscribers: set[AlertSubscriber] = set()
        self._firing: dict[str, tuple[int, str]] = {}  # rule -> (id, frame) firing now, for later subscribers
        self._seen: deque[tuple[int, str]] = deque(maxlen=_REMEMBERED)

    @property
    def firing(self) -> list[str]:
        return [frame for _, frame in self._firing.values()]

    def subscribe(self, subscriber: AlertSubscriber) -> None:
        """From now on `subscriber` gets every transition; first, the alerts firing now."""
        self._subscribers.add(subscriber)
        for frame in self.firing:
            subscriber.offer_reply(frame)

    def unsubscribe(self, subscriber: AlertSubscriber) -> None:
        self._subscribers.discard(subscriber)

    def prefill(self, alerts: list[dict[str, Any]]) -> None:
        """The alerts firing when this process started (from the database)."""
        for alert in alerts:
            self._accept(alert_frame(alert))

    async def publish(self, alert: dict[str, Any]) -> None:
        frame = alert_frame(alert)
        self._deliver(frame)
        try:
            await self._backend.publish(self._channel, frame.encode())
        except BackendUnavailable as exc:
            log.error("alert not relayed to other instances: %s", exc)

    async def listen(self) -> None:
        """Relay transitions published by any instance to this instance's subscribers, until cancelled."""
        while True:
            try:
                async for message in self._backend.subscribe(self._channel):
                    self._deliver(message.decode())
                return  # the backend disconnected: shutting down
            except BackendUnavailable:
                await asyncio.sleep(1.0)

    def _deliver(self, frame: str) -> None:
        if self._accept(frame):
            for subscriber in list(self._subscribers):
                subscriber.offer_reply(frame)

    def _accept(self, frame: str) -> bool:
        try:
            data = json.loads(frame)["data"]
            key = (int(data["id"]), str(data["state"]))
            rule = str(data["rule"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed message on the alert channel")
            return False
        if key in self._seen:
            return False
        self._seen.append(key)
        if key[1] == "firing":
            self._firing[rule] = (key[0], frame)
        elif rule in self._firing and self._firing[rule][0] == key[0]:
            del self._firing[rule]
        return True


def alert_frame(alert: dict[str, Any]) -> str:
    return encode({"type": MessageType.ALERT, "data": alert}).decode()
