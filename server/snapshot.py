"""A computed snapshot and its wire forms, encoded once and shared by every client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from metrics_client.protocol import MessageType
from server.metrics import encode
from server.wire import text_frame

# Every push frame starts so; the snapshot's shared bytes follow (a frame is built, never re-encoded).
PUSH_START = f'{{"type":"{MessageType.METRICS}","data":'


@dataclass(frozen=True)
class Snapshot:
    id: int
    data: dict[str, Any]  # the REST body; money and the rate as Decimals
    encoded: bytes = field(repr=False)  # the REST body as JSON

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Snapshot:
        return cls(id=int(data["snapshotId"]), data=data, encoded=encode(data))

    @classmethod
    def from_encoded(cls, encoded: bytes) -> Snapshot:
        data = json.loads(encoded, parse_float=Decimal)
        return cls(id=int(data["snapshotId"]), data=data, encoded=encoded)

    @cached_property
    def frame(self) -> str:
        """The WebSocket push, `{"type": "metrics", "data": {...}}`, built once from the shared bytes."""
        return PUSH_START + self.encoded.decode() + "}"

    @cached_property
    def wire(self) -> bytes:
        """The WebSocket push as a whole frame, the same bytes for every socket (server.wire)."""
        return text_frame(self.frame.encode())

    @cached_property
    def event(self) -> str:
        """The same push as a Server-Sent Event (the JSON is compact: one `data:` line)."""
        return f"id: {self.id}\nevent: metrics\ndata: {self.encoded.decode()}\n\n"

    @property
    def stale(self) -> bool:
        return self.data.get("stale") is True

    @cached_property
    def computed_at(self) -> datetime | None:
        """The snapshot's `timestamp`, or None when it has none."""
        raw = self.data.get("timestamp")
        if not isinstance(raw, str):
            return None
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return None

    def as_stale(self) -> Snapshot:
        """The same snapshot (id, numbers) marked `"stale": true`; built once, then shared."""
        return self if self.stale else self._stale_copy

    def as_fresh(self) -> Snapshot:
        """The same snapshot as it was computed, `"stale": false`."""
        return self._fresh_copy if self.stale else self

    @cached_property
    def _stale_copy(self) -> Snapshot:
        return Snapshot.from_data({**self.data, "stale": True})

    @cached_property
    def _fresh_copy(self) -> Snapshot:
        return Snapshot.from_data({**self.data, "stale": False})
