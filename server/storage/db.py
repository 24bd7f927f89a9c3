"""The async engine: plain URLs in, the right async driver out, SQLite tuned for durability."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from server.errors import ConfigurationError, DatabaseUnavailable
from server.storage.errors import translate_errors

# Plain (or sync-driver) schemes -> the async driver the sidecar uses for them.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}

# Execution option asking SQLite to take the write lock at BEGIN (see `write_connection`).
_IMMEDIATE = "sqlite_begin_immediate"


# DATABASE_URL's own query option, never handed to the driver: `?pgbouncer=true` says the server is
# reached through a PgBouncer in transaction pooling mode (see `_pooled_connect_args`).
POOLER_OPTION = "pgbouncer"
_TRUTH = {"true": True, "false": False}


def async_url(raw: str) -> URL:
    """Translate a plain `sqlite:///...` or `postgresql://...` URL to its async-driver form, without
    the sidecar's own `pgbouncer` option (which `create_engine` reads)."""
    return _parse(raw)[0]


def _parse(raw: str) -> tuple[URL, bool]:
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigurationError(f"DATABASE_URL is not a database URL: {exc}") from exc
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        known = ", ".join(sorted({k.split("+")[0] for k in _ASYNC_DRIVERS}))
        raise ConfigurationError(f"DATABASE_URL scheme {url.drivername!r} is not supported (use one of: {known})")
    option = url.query.get(POOLER_OPTION, "false")
    pooled = _TRUTH.get(option.lower()) if isinstance(option, str) else None
    if pooled is None:
        raise ConfigurationError(f"DATABASE_URL option {POOLER_OPTION}= must be true or false, got {option!r}")
    if pooled and not driver.startswith("postgresql"):
        raise ConfigurationError(f"DATABASE_URL option {POOLER_OPTION}=true is for PostgreSQL behind PgBouncer")
    return url.difference_update_query([POOLER_OPTION]).set(drivername=driver), pooled


def create_engine(database_url: str) -> AsyncEngine:
    """The sidecar's engine: it raises `DatabaseUnavailable` when the database cannot be reached."""
    url, pooled = _parse(database_url)
    engine = _sqlite_engine(url) if url.get_backend_name() == "sqlite" else _postgresql_engine(url, pooled)
    translate_errors(engine)
    return engine


async def ping(engine: AsyncEngine, within: float = 2.0) -> None:
    """Returns when the database answers within `within` seconds; else raises `DatabaseUnavailable`."""
    try:
        async with asyncio.timeout(within):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except TimeoutError as exc:
        raise DatabaseUnavailable(f"the database did not answer within {within:g} s") from exc


def _postgresql_engine(url: URL, pooled: bool) -> AsyncEngine:
    # pre_ping: a connection that died with the server is replaced, not handed to a request. (Its
    # ping runs in a transaction of its own, so it works through a transaction pooler too.)
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=10,
        connect_args=_pooled_connect_args() if pooled else {},
        hide_parameters=True,  # an error's text never carries event fields or snapshot payloads
    )


def _pooled_connect_args() -> dict[str, Any]:
    """asyncpg behind a transaction-pooling PgBouncer.

    PgBouncer hands each transaction whichever server connection is free, while a prepared
    statement lives on the one server connection that prepared it (1.21 and later can track them,
    with `max_prepared_statements`; Debian's 1.18 cannot). SQLAlchemy prepares
    every statement it runs, inside the statement's transaction; it must not keep one for a later
    transaction (that one may run on another server connection: "does not exist"), hence no cache
    of its own (`prepared_statement_cache_size=0`). With its own cache off too
    (`statement_cache_size=0`), asyncpg prepares every statement unnamed and parses it again
    when it runs it, so nothing is left on a server connection for the next client to trip over
    ("already exists") or to pile up there. SQLAlchemy's PgBouncer recipe also names statements
    uniquely (`prepared_statement_name_func`); that would make them named again, and every one
    left on whichever server connection ran it, unless PgBouncer resets each connection.
    """
    return {"prepared_statement_cache_size": 0, "statement_cache_size": 0}


def _sqlite_engine(url: URL) -> AsyncEngine:
    if url.database in (None, "", ":memory:"):
        raise ConfigurationError("an in-memory SQLite database is per connection; give a file path")
    Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    # pysqlite's own transaction handling is off so that BEGIN is ours to emit (SQLAlchemy's
    # documented recipe); writers take the lock up front and never deadlock on a lock upgrade.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # durable before the 200, not just on clean exit
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


async def write_connection(engine: AsyncEngine) -> AsyncConnection:
    """A connection for a read-then-write transaction (SQLite takes its write lock at BEGIN)."""
    conn = await engine.connect()
    return await conn.execution_options(**{_IMMEDIATE: True})


async def create_database(server_url: str, name: str, *, replace: bool = False) -> str:
    """Create database `name` on the PostgreSQL server of `server_url` (dropping it first when
    `replace`); returns its URL. For tests and benchmarks that work in databases of their own."""
    if replace:
        await drop_database(server_url, name)
    await _outside_transaction(server_url, f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, name: str) -> None:
    await _outside_transaction(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _outside_transaction(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()
