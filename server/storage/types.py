"""Column types that keep time timezone-aware on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def to_sqlite_text(value: datetime) -> str:
    """UTC text as the contract fixes it for SQLite: `YYYY-MM-DD HH:MM:SS[.ffffff]`.

    Whole seconds are written without a fraction so that a bound at an exact second compares
    equal to a row the platform wrote without one (the column is compared as text).
    """
    value = value.astimezone(UTC).replace(tzinfo=None)
    # isoformat pads the year to four digits; strftime's %Y does not below 1000 (glibc), and the
    # column is compared (and read back) as text.
    return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")


def from_sqlite_text(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """`timestamptz` on PostgreSQL, UTC text on SQLite; Python always sees aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        if dialect.name == "sqlite":
            return to_sqlite_text(value)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return from_sqlite_text(value)
        moment: datetime = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment
