"""The dashboard's way to the sidecar: every page gets its data here, never by SQL or raw HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from server.settings import Settings


class SidecarUnavailable(Exception):
    """The sidecar did not answer, or answered with an error."""


@dataclass(frozen=True)
class SidecarClient:
    api_url: str
    timeout: float = 5.0

    @classmethod
    def from_env(cls) -> SidecarClient:
        return cls(api_url=Settings.from_env().api_url.rstrip("/"))

    def realtime_metrics(self) -> dict[str, Any]:
        try:
            response = httpx.get(f"{self.api_url}/api/v1/analytics/realtime-metrics", timeout=self.timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise SidecarUnavailable(str(exc) or type(exc).__name__) from exc
        return response.json()
