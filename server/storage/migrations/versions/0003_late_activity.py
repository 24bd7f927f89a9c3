"""Late activity: `late_activity` and its triggers, so that pace's active users stay exact when a
past day's activity is written afterwards (`server.storage.pace_users`).

Frozen like the baseline: the table is declared here as it was when this migration was written,
and the triggers and functions are the SQL next to this file (`0003_late_activity.<dialect>.sql`,
copies of `server/storage/sql/<dialect>/late_activity.sql` as they were). The table starts empty:
a moment written before this migration is already in every list read after it.

Revision ID: late_activity
Revises: catalogue
Create Date: 2026-12-04
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

from server.storage.migrations.frozen import frozen_statements
from server.storage.types import UtcDateTime

revision = "late_activity"
down_revision = "catalogue"
branch_labels = None
depends_on = None

_FROZEN = Path(__file__).with_name("0003_late_activity.{dialect}.sql")


def _frozen_statements(dialect: str) -> list[tuple[str, str]]:
    return frozen_statements(_FROZEN.with_name(_FROZEN.name.format(dialect=dialect)))


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.create_table(
        "late_activity",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("hour", UtcDateTime(), nullable=False),
        sa.Column("writes", sa.BigInteger(), nullable=False),
        sa.Column("folded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_late_activity")),
    )
    if dialect == "sqlite":
        op.create_index("uq_late_activity_hour", "late_activity", ["hour"], unique=True)
    else:
        op.create_index("ix_late_activity_hour", "late_activity", ["hour"], postgresql_include=["writes"])
        op.create_index("ix_late_activity_unfolded", "late_activity", ["hour"], postgresql_where=sa.text("NOT folded"))
    for _, statement in _frozen_statements(dialect):
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for name, _ in _frozen_statements(dialect):
        kind, _, object_name = name.partition(" ")
        if kind == "trigger":
            table = object_name.removeprefix("late_activity_").rsplit("_", 1)[0]
            on_table = "" if dialect == "sqlite" else f" ON {table}"
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {object_name}{on_table}")
    for name, _ in _frozen_statements(dialect):
        if name.startswith("function "):
            bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name.removeprefix('function ')}()")
    op.drop_table("late_activity")
