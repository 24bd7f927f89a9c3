"""A computed snapshot and its wire forms, encoded once and shared by every client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from server.metrics import encode


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

    @property
    def frame(self) -> str:
        """The WebSocket push, `{"type": "metrics", "data": {...}}`, built from the shared bytes."""
        return '{"type":"metrics","data":' + self.encoded.decode() + "}"
