"""What a database error means to the sidecar: the database is away (retry later), or a query is wrong.

`translate_errors(engine)` makes every engine of the sidecar raise `DatabaseUnavailable` (from the
driver's error) when the database cannot be reached, whether connecting or mid-statement; a wrong
query still raises SQLAlchemy's own error. Nothing above storage looks at driver exceptions.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from server.errors import DatabaseUnavailable

# What a lost or refused database connection looks like from SQLAlchemy and the drivers.
_CONNECTION_ERRORS = (PoolTimeout, OSError, asyncio.TimeoutError, ConnectionError)
# SQLite reports a busy or unreadable file as an OperationalError, as it does a bad query.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open", "disk i/o", "readonly", "busy")


def is_database_down(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached now (retry later), not that a query is wrong."""
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        return any(marker in str(exc.orig).lower() for marker in _SQLITE_UNAVAILABLE)
    return True


def translate_errors(engine: AsyncEngine) -> None:
    """Install, on `engine`, the translation of "cannot reach the database" into `DatabaseUnavailable`."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        # A refused or lost connection comes from the driver's connect as a plain OSError, which
        # SQLAlchemy's handle_error never sees.
        try:
            return dialect.connect(*cargs, **cparams)
        except (TimeoutError, OSError, ConnectionError) as exc:
            raise DatabaseUnavailable() from exc

    @event.listens_for(engine.sync_engine, "handle_error")
    def _statement(context: ExceptionContext) -> None:
        if is_database_down(context.sqlalchemy_exception or context.original_exception):
            raise DatabaseUnavailable() from context.sqlalchemy_exception
