"""The client's settings: the one place in the package that reads the environment.

Only what a client needs: where the sidecar is and which token to present. A `.env` file in the
working directory may set them (the real environment wins); whatever else it holds, the
sidecar's own variables included (HOST, METRICS_TOKENS, DATABASE_URL, ...), is none of the
client's business and never stops it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from metrics_client.protocol import DEFAULT_API_URL, DEFAULT_WS_URL


class ClientConfigurationError(ValueError):
    """A client variable holds something the client cannot work with."""


@dataclass(frozen=True)
class ClientSettings:
    api_url: str = DEFAULT_API_URL  # METRICS_API_URL: the sidecar's base URL for REST
    ws_url: str = DEFAULT_WS_URL  # METRICS_WS_URL: its WebSocket
    token: str | None = field(default=None, repr=False)  # METRICS_TOKEN: an API token with `read`

    def __post_init__(self) -> None:
        if not self.api_url.startswith(("http://", "https://")):
            raise ClientConfigurationError(f"METRICS_API_URL must start with http:// or https://, got {self.api_url!r}")
        if not self.ws_url.startswith(("ws://", "wss://")):
            raise ClientConfigurationError(f"METRICS_WS_URL must start with ws:// or wss://, got {self.ws_url!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> ClientSettings:
        """Settings from a `.env` file overlaid by the real environment (which wins)."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            from dotenv import dotenv_values

            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            return values.get(name, "").strip() or None

        return cls(
            api_url=get("METRICS_API_URL") or DEFAULT_API_URL,
            ws_url=get("METRICS_WS_URL") or DEFAULT_WS_URL,
            token=get("METRICS_TOKEN"),
        )
