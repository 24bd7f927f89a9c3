"""Settings come from the environment (and `.env`), exactly the contract's variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from starlette.applications import Starlette

from server.app import uvicorn_config
from server.errors import ConfigurationError
from server.settings import Settings
from server.storage.db import async_url


def test_defaults_are_the_embedded_quick_start() -> None:
    settings = Settings.from_env({}, env_file=None)
    assert settings == Settings()
    assert settings.embedded is True
    assert settings.database_url == "sqlite:///data/metrics.db"
    assert (settings.redis_url, settings.interval, settings.timezone, settings.currency) == (None, 5.0, "UTC", "USD")
    assert (settings.host, settings.port, settings.redis_prefix) == ("127.0.0.1", 3000, "metrics:")
    assert settings.allowed_origins == ("http://localhost:8501", "http://127.0.0.1:8501")
    assert settings.trusted_proxies == ()  # no proxy header is believed unless told


def test_every_contract_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@db/metrics",
            "REDIS_URL": "redis://cache:6379/1",
            "METRICS_INTERVAL": "2.5",
            "METRICS_TIMEZONE": "Pacific/Auckland",
            "METRICS_CURRENCY": "NZD",
            "METRICS_REDIS_PREFIX": "shop1:",
            "HOST": "0.0.0.0",
            "METRICS_TOKENS": "dashboard:read:" + "0" * 64,
            "PORT": "8080",
            "METRICS_ALLOWED_ORIGINS": "https://a.example, https://b.example/",
            "METRICS_TRUSTED_PROXIES": "10.0.0.7, 10.1.0.0/16,2001:db8::/64",
        },
        env_file=None,
    )
    assert settings.embedded is False
    assert settings.database_url == "postgresql://u@db/metrics"
    assert settings.redis_url == "redis://cache:6379/1"
    assert (settings.interval, settings.timezone, settings.currency) == (2.5, "Pacific/Auckland", "NZD")
    assert (settings.redis_prefix, settings.host, settings.port) == ("shop1:", "0.0.0.0", 8080)
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.7/32"),
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("2001:db8::/64"),
    )


def test_the_real_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("METRICS_TIMEZONE=Europe/Berlin\nMETRICS_CURRENCY=EUR\n")
    settings = Settings.from_env({"METRICS_CURRENCY": "GBP"}, env_file=env_file)
    assert (settings.timezone, settings.currency) == ("Europe/Berlin", "GBP")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("METRICS_INTERVAL", "soon", "METRICS_INTERVAL must be a number"),
        ("METRICS_INTERVAL", "0", "METRICS_INTERVAL must be a positive number"),
        ("METRICS_TIMEZONE", "Mars/Olympus", "not an IANA time zone"),
        ("METRICS_CURRENCY", "dollars", "three-letter ISO code"),
        ("PORT", "http", "PORT must be an integer"),
        ("PORT", "70000", "PORT must be between 1 and 65535"),
        ("METRICS_TRUSTED_PROXIES", "10.0.0.7,nginx", "METRICS_TRUSTED_PROXIES: 'nginx' is not an IP address"),
        ("METRICS_TRUSTED_PROXIES", "10.0.0.0/33", "METRICS_TRUSTED_PROXIES: '10.0.0.0/33' is not"),
        ("METRICS_ACCESS_LOG", "quiet", "METRICS_ACCESS_LOG must be 1 or 0"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({variable: value}, env_file=None)


@pytest.mark.parametrize(
    ("plain", "driver"),
    [
        ("sqlite:///data/metrics.db", "sqlite+aiosqlite"),
        ("postgresql://u@db/metrics", "postgresql+asyncpg"),
        ("postgres://u@db/metrics", "postgresql+asyncpg"),
        ("postgresql+psycopg2://u@db/metrics", "postgresql+asyncpg"),
    ],
)
def test_plain_database_urls_get_the_async_driver(plain: str, driver: str) -> None:
    assert async_url(plain).drivername == driver


def test_an_unsupported_database_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="scheme 'mysql' is not supported"):
        async_url("mysql://u@db/metrics")


def test_the_pgbouncer_option_is_the_sidecars_own_and_never_reaches_the_driver() -> None:
    url = async_url("postgresql://u@pgbouncer:6432/metrics?pgbouncer=true&sslmode=require")
    assert (url.drivername, url.port, dict(url.query)) == ("postgresql+asyncpg", 6432, {"sslmode": "require"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("postgresql://u@pgbouncer:6432/metrics?pgbouncer=yes", "pgbouncer= must be true or false, got 'yes'"),
        ("sqlite:///data/metrics.db?pgbouncer=true", "pgbouncer=true is for PostgreSQL behind PgBouncer"),
    ],
)
def test_a_misused_pgbouncer_option_is_refused(raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        async_url(raw)


def test_the_access_log_is_on_unless_turned_off() -> None:
    assert Settings.from_env({}, env_file=None).access_log
    quiet = Settings.from_env({"METRICS_ACCESS_LOG": "0"}, env_file=None)
    assert not quiet.access_log
    assert Settings.from_env({"METRICS_ACCESS_LOG": "on"}, env_file=None).access_log
    assert uvicorn_config(quiet, Starlette()).access_log is False
    assert uvicorn_config(Settings.from_env({}, env_file=None), Starlette()).access_log is True
