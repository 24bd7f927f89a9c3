"""The one place that reads the environment.

`Settings.from_env()` is called once, at the edge (`python -m server`, the uvicorn factory);
everything below takes the frozen object as an argument, and tests build it directly.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metrics_client.protocol import DEFAULT_INTERVAL, MAX_BATCH_EVENTS
from server.alerts.config import check_alerts, load_alerts
from server.alerts.delivery import DeliveryPolicy
from server.alerts.rules import DEFAULT_RULES, Rule
from server.alerts.silences import Silence
from server.alerts.webhooks import Webhook
from server.auth import Token, parse_tokens
from server.client_address import Network, parse_networks
from server.errors import ConfigurationError

DEFAULT_SQLITE_PATH = Path("data") / "metrics.db"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_RESERVED_FILES = 64  # file handles kept out of METRICS_MAX_CONNECTIONS's default (pool, Redis, logs)
DEFAULT_ALLOWED_ORIGINS = ("http://localhost:8501", "http://127.0.0.1:8501")


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    redis_url: str | None = None
    interval: float = DEFAULT_INTERVAL
    timezone: str = "UTC"
    currency: str = "USD"
    redis_prefix: str = "metrics:"
    host: str = "127.0.0.1"
    port: int = 3000
    allowed_origins: tuple[str, ...] = DEFAULT_ALLOWED_ORIGINS
    # True when DATABASE_URL was not given: the embedded default, where demo data is allowed.
    embedded: bool = True
    # API tokens (hashed); none means open, which is allowed on loopback only.
    tokens: tuple[Token, ...] = ()
    tokens_file: str | None = None  # METRICS_TOKENS_FILE, where part of `tokens` came from
    # Limits (METRICS_REQUESTS_PER_SECOND, METRICS_SOCKET_MESSAGES_PER_MINUTE, METRICS_SOCKETS_PER_ADDRESS).
    requests_per_second: float = 100.0  # per token, or per client address when open
    socket_messages_per_minute: int = 120
    sockets_per_address: int = 100
    # Proxies whose X-Forwarded-For / Forwarded is believed (METRICS_TRUSTED_PROXIES); none by default.
    trusted_proxies: tuple[Network, ...] = ()
    # Host names the sidecar answers for (METRICS_ALLOWED_HOSTS); None: `hosts_allowed`'s default.
    allowed_hosts: tuple[str, ...] | None = None
    # Connections one client address may hold before they become WebSockets (METRICS_CONNECTIONS_PER_ADDRESS).
    connections_per_address: int = 64
    # Open connections (HTTP and WebSocket) before new requests get 503 (METRICS_MAX_CONNECTIONS);
    # None: what the process's open-file limit leaves room for (`max_connections_allowed`).
    max_connections: int | None = None
    # Alert rules (METRICS_ALERTS_FILE, TOML); without a file, the spec's monitoring list.
    alert_rules: tuple[Rule, ...] = DEFAULT_RULES
    # From the same file: the webhooks transitions are posted to (with their URLs and secrets,
    # read from the variables the file names) and the rules' maintenance windows.
    alert_webhooks: tuple[Webhook, ...] = ()
    alert_silences: tuple[Silence, ...] = ()
    # One log line per request (METRICS_ACCESS_LOG=0 turns it off: the quick start's demo traffic
    # would otherwise scroll its console by a line a second).
    access_log: bool = True
    # Not environment variables: limits and timings that tests shorten.
    cache_ttl: float = 10.0
    history_size: int = 20
    replay_ring: int = 720  # snapshots kept in memory for resumes (older ones are read from the log)
    replay_limit: int = 2000  # snapshots one resume may replay; further behind gets a reset
    max_frame_bytes: int = 64 * 1024
    stall_timeout: float = 15.0
    max_batch_events: int = MAX_BATCH_EVENTS
    max_body_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 16 * 1024  # a request's line and headers; more gets 400 before any app code
    header_timeout: float = 10.0  # a request's headers must be in within this (from connect or the last response)
    body_timeout: float = 30.0  # and its body within this after its headers
    future_tolerance_s: float = 300.0
    webhook_delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    extra: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ConfigurationError(f"METRICS_INTERVAL must be a positive number of seconds, got {self.interval!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(f"METRICS_TIMEZONE {self.timezone!r} is not an IANA time zone") from exc
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ConfigurationError(f"METRICS_CURRENCY must be a three-letter ISO code, got {self.currency!r}")
        if not 0 < self.port < 65536:
            raise ConfigurationError(f"PORT must be between 1 and 65535, got {self.port!r}")
        if not self.requests_per_second > 0:
            raise ConfigurationError("METRICS_REQUESTS_PER_SECOND must be a positive number")
        if not self.tokens and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to listen on {self.host} without API tokens: anyone who can reach it could read "
                "revenue and write events. Set METRICS_TOKENS or METRICS_TOKENS_FILE (python -m tools.tokens "
                "new ...), or bind to 127.0.0.1."
            )
        check_alerts(self.alert_rules, self.alert_webhooks, self.alert_silences)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def hosts_allowed(self) -> tuple[str, ...]:
        """METRICS_ALLOWED_HOSTS, or by default: while open (no tokens), only the loopback names, so
        that a web page cannot reach it through a name it rebinds to 127.0.0.1 (DNS rebinding);
        with tokens, any name (a page cannot present a token it does not have)."""
        if self.allowed_hosts is not None:
            return self.allowed_hosts
        return ("*",) if self.tokens else LOOPBACK_HOSTS

    @property
    def secret_files(self) -> tuple[str, ...]:
        """Files of this configuration that hold secrets: `.env` (tokens, database passwords) and
        the tokens file."""
        return (".env", *((self.tokens_file,) if self.tokens_file else ()))

    @property
    def max_connections_allowed(self) -> int:
        """METRICS_MAX_CONNECTIONS, or by default the open-file limit less room for the database
        pool, Redis and the files a process needs: past it new requests get 503, not a hang."""
        if self.max_connections is not None:
            return self.max_connections
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return 100_000
        return max(16, soft - _RESERVED_FILES)

    @property
    def pubsub_silence(self) -> float:
        """How long the snapshot channel may stay silent before it counts as not delivering."""
        return 3 * self.interval + 2.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
        """Build settings from a `.env` file overlaid by the real environment (which wins)."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            from dotenv import dotenv_values

            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            value = values.get(name, "").strip()
            return value or None

        kwargs: dict[str, object] = {}
        if (url := get("DATABASE_URL")) is not None:
            kwargs["database_url"] = url
            kwargs["embedded"] = False
        kwargs["redis_url"] = get("REDIS_URL")
        if (interval := get("METRICS_INTERVAL")) is not None:
            kwargs["interval"] = _number("METRICS_INTERVAL", interval)
        for name, key in (
            ("METRICS_TIMEZONE", "timezone"),
            ("METRICS_CURRENCY", "currency"),
            ("METRICS_REDIS_PREFIX", "redis_prefix"),
            ("HOST", "host"),
        ):
            if (value := get(name)) is not None:
                kwargs[key] = value
        if (port := get("PORT")) is not None:
            if not port.isdigit():
                raise ConfigurationError(f"PORT must be an integer, got {port!r}")
            kwargs["port"] = int(port)
        kwargs["tokens"] = parse_tokens(get("METRICS_TOKENS"), get("METRICS_TOKENS_FILE"))
        kwargs["tokens_file"] = get("METRICS_TOKENS_FILE")
        if (rps := get("METRICS_REQUESTS_PER_SECOND")) is not None:
            kwargs["requests_per_second"] = _number("METRICS_REQUESTS_PER_SECOND", rps)
        for name, key in (
            ("METRICS_SOCKET_MESSAGES_PER_MINUTE", "socket_messages_per_minute"),
            ("METRICS_SOCKETS_PER_ADDRESS", "sockets_per_address"),
            ("METRICS_MAX_CONNECTIONS", "max_connections"),
            ("METRICS_CONNECTIONS_PER_ADDRESS", "connections_per_address"),
        ):
            if (raw := get(name)) is not None:
                if not raw.isdigit() or int(raw) < 1:
                    raise ConfigurationError(f"{name} must be a positive integer, got {raw!r}")
                kwargs[key] = int(raw)
        if (proxies := get("METRICS_TRUSTED_PROXIES")) is not None:
            try:
                kwargs["trusted_proxies"] = parse_networks(proxies)
            except ValueError as exc:
                raise ConfigurationError(f"METRICS_TRUSTED_PROXIES: {exc}") from exc
        if (alerts_file := get("METRICS_ALERTS_FILE")) is not None:
            alerts = load_alerts(alerts_file, values)
            kwargs["alert_rules"] = alerts.rules
            kwargs["alert_webhooks"] = alerts.webhooks
            kwargs["alert_silences"] = alerts.silences
        if (access_log := get("METRICS_ACCESS_LOG")) is not None:
            if access_log.lower() not in _SWITCHES:
                raise ConfigurationError(f"METRICS_ACCESS_LOG must be 1 or 0 (true/false, on/off), got {access_log!r}")
            kwargs["access_log"] = _SWITCHES[access_log.lower()]
        if (hosts := get("METRICS_ALLOWED_HOSTS")) is not None:
            names = tuple(h.strip().lower() for h in hosts.split(",") if h.strip())
            bad = [h for h in names if "*" in h[1:] or (h.startswith("*") and h != "*" and not h.startswith("*."))]
            if bad:
                raise ConfigurationError(f"METRICS_ALLOWED_HOSTS: a wildcard is '*' or '*.example.com', not {bad[0]!r}")
            kwargs["allowed_hosts"] = names
        if (origins := get("METRICS_ALLOWED_ORIGINS")) is not None:
            kwargs["allowed_origins"] = tuple(o.strip().rstrip("/") for o in origins.split(",") if o.strip())
        return cls(**kwargs)  # type: ignore[arg-type]


_SWITCHES = {"1": True, "true": True, "on": True, "yes": True, "0": False, "false": False, "off": False, "no": False}


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from exc


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
