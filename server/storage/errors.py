"""What a database error means to the sidecar: the database is away (retry later), or a query is wrong."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

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
