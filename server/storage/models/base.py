"""The declarative base (with the constraint naming convention) and what the models share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Integer, MetaData, Table
from sqlalchemy.orm import DeclarativeBase

# An id column that autoincrements on both databases (SQLite only does it for INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    # Every model here is mapped to a Table (no mapping to a join or a select), which insert() and
    # update() take; SQLAlchemy declares the wider FromClause.
    __table__: ClassVar[Table]

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def include_object_for(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's `include_object` for a database of `dialect`: an index declared for the other
    dialect only (`Index(...).ddl_if(dialect=...)`) is not expected there."""

    def include_object(obj: Any, _name: str | None, _type: str, reflected: bool, _compare_to: Any) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        return reflected or ddl_if is None or ddl_if.dialect is None or ddl_if.dialect == dialect

    return include_object
