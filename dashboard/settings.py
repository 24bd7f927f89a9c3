"""The dashboard's settings: the one place in `dashboard/` that reads the environment.

The dashboard is a client of the sidecar: it needs to know where the sidecar is and how it counts
(interval, currency, zone), never the sidecar's own database, Redis or tokens file. A `.env` file
may set the same variables; the real environment wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metrics_client.protocol import BACKOFF, DEFAULT_API_URL, DEFAULT_INTERVAL, DEFAULT_WS_URL

RETRY_EVERY = 60.0  # after the backoff gives up, one more try this often, for unattended screens


class DashboardConfigurationError(ValueError):
    """A dashboard variable holds something the dashboard cannot run with."""


@dataclass(frozen=True)
class DashboardSettings:
    api_url: str = DEFAULT_API_URL
    ws_url: str = DEFAULT_WS_URL
    token: str | None = field(default=None, repr=False)  # METRICS_DASHBOARD_TOKEN (needs `read`)
    interval: float = DEFAULT_INTERVAL
    currency: str = "USD"
    timezone: str = "UTC"
    backoff: tuple[float, ...] = BACKOFF
    retry_every: float = RETRY_EVERY

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
    ) -> DashboardSettings:
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            from dotenv import dotenv_values

            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            return values.get(name, "").strip() or None

        settings = cls()
        changes: dict[str, object] = {}
        for name, key in (
            ("METRICS_API_URL", "api_url"),
            ("METRICS_WS_URL", "ws_url"),
            ("METRICS_DASHBOARD_TOKEN", "token"),
            ("METRICS_CURRENCY", "currency"),
            ("METRICS_TIMEZONE", "timezone"),
        ):
            if (value := get(name)) is not None:
                changes[key] = value
        if (raw := get("METRICS_INTERVAL")) is not None:
            changes["interval"] = _seconds("METRICS_INTERVAL", raw)
        if (raw := get("METRICS_DASHBOARD_BACKOFF")) is not None:
            changes["backoff"] = tuple(_seconds("METRICS_DASHBOARD_BACKOFF", part) for part in raw.split(","))
        if (raw := get("METRICS_DASHBOARD_RETRY_EVERY")) is not None:
            changes["retry_every"] = _seconds("METRICS_DASHBOARD_RETRY_EVERY", raw)
        settings = replace(settings, **changes)  # type: ignore[arg-type]
        try:
            ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise DashboardConfigurationError(
                f"METRICS_TIMEZONE {settings.timezone!r} is not an IANA time zone"
            ) from exc
        return settings


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise DashboardConfigurationError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value
