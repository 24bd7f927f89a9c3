"""The whole schema, as of December 2026: tables, indexes, triggers and functions.

It replaces migrations 0001..0008, which no production database ran. The tables are declared
below as they are in `server.storage.models`; the triggers and functions are the frozen SQL next
to this file (`0001_baseline.<dialect>.sql`, copies of `server/storage/sql/<dialect>/*.sql` as
they were), run statement by statement. Nothing here imports the live models or SQL files, so
changing those never changes this migration; a later change is a migration of its own.

Revision ID: baseline
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from server.storage.migrations.frozen import frozen_statements
from server.storage.types import UtcDateTime

revision = "baseline"
down_revision = None
branch_labels = None
depends_on = None

_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FROZEN = Path(__file__).with_name("0001_baseline.{dialect}.sql")


def _id() -> sa.Column[int]:
    return sa.Column("id", _big_id, primary_key=True, autoincrement=True)


def _frozen_statements(dialect: str) -> list[tuple[str, str]]:
    return frozen_statements(_FROZEN.with_name(_FROZEN.name.format(dialect=dialect)))


def _contract_tables() -> None:
    op.create_table(
        "transactions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("content_id", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("status_changed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.CheckConstraint("status IN ('pending', 'completed', 'failed')", name=op.f("ck_transactions_status")),
    )
    op.create_index("ix_transactions_status", "transactions", ["status"])
    op.create_index(
        "ix_transactions_completed_time",
        "transactions",
        [sa.text("coalesce(completed_at, created_at)")],
        postgresql_where=sa.text("status = 'completed'"),
        sqlite_where=sa.text("status = 'completed'"),
    )
    op.create_index("ix_transactions_created_user", "transactions", ["created_at", "user_id"])
    op.create_index("ix_transactions_completed_user", "transactions", ["completed_at", "user_id"])
    op.create_index("ix_transactions_changed_user", "transactions", ["status_changed_at", "user_id"])

    op.create_table(
        "content_views",
        _id(),
        sa.Column("content_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("viewed_at", UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_views")),
        sa.UniqueConstraint("event_id", name=op.f("uq_content_views_event_id")),
    )
    op.create_index("ix_content_views_viewed_user", "content_views", ["viewed_at", "user_id"])
    op.create_index("ix_content_views_content", "content_views", ["content_id"])

    op.create_table(
        "user_activity",
        _id(),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_activity")),
        sa.UniqueConstraint("event_id", name=op.f("uq_user_activity_event_id")),
    )
    op.create_index("ix_user_activity_at_user", "user_activity", ["at", "user_id"])


def _derived_tables(dialect: str) -> None:
    measures = {
        "rollup_sales_15m": ("revenue_cents", "purchases"),
        "rollup_views_15m": ("views",),
        "rollup_content_hour": ("views", "purchases", "revenue_cents"),
        "rollup_content_day": ("views", "purchases", "revenue_cents"),
    }
    for table, columns in measures.items():
        content = table.startswith("rollup_content")
        op.create_table(
            table,
            _id(),
            sa.Column("bucket", UtcDateTime(), nullable=False),
            *([sa.Column("content_id", sa.Text(), nullable=False)] if content else []),
            *(sa.Column(name, sa.BigInteger(), nullable=False) for name in columns),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        key = ["bucket", "content_id"] if content else ["bucket"]
        if dialect == "sqlite":  # one row per bucket, upserted
            op.create_index(f"uq_{table}_bucket", table, key, unique=True)
        else:  # rows appended per statement; covering indexes for index-only range scans
            include = ["content_id", *columns] if content else list(columns)
            name = f"ix_{table}_covering" if content else f"ix_{table}_bucket"
            op.create_index(name, table, ["bucket"], postgresql_include=include)

    op.create_table(
        "snapshot_totals",
        _id(),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            for name in ("pending", "completed", "failed", "revenue_cents", "views")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_totals")),
    )
    op.create_table(
        "active_days_config",
        sa.Column("zone", sa.Text(), nullable=False),
        sa.Column("since_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("zone", name=op.f("pk_active_days_config")),
    )
    op.create_table(
        "active_user_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "user_id", name=op.f("pk_active_user_days")),
    )
    op.create_table(
        "active_day_counts",
        _id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("users", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_day_counts")),
    )
    op.create_index("ix_active_day_counts_day", "active_day_counts", ["day", "users"])
    op.create_table(
        "active_user_day_deltas",
        _id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_user_day_deltas")),
    )
    op.create_index(
        "ix_active_user_day_deltas_day", "active_user_day_deltas", ["day", "user_id"], postgresql_include=["n"]
    )


def _sidecar_tables() -> None:
    op.create_table(
        "snapshot_log",
        sa.Column("snapshot_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("computed_at", UtcDateTime(), nullable=False),
        sa.Column("active_current", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", name=op.f("pk_snapshot_log")),
    )
    op.create_index("ix_snapshot_log_computed_at", "snapshot_log", ["computed_at"])
    op.create_index("ix_snapshot_log_active_current", "snapshot_log", ["active_current", "computed_at"])

    op.create_table(
        "alert_events",
        _id(),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("threshold", sa.Text(), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=False),
        sa.Column("fired_snapshot_id", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_snapshot_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index("ix_alert_events_fired_at", "alert_events", ["fired_at"])
    op.create_index(
        "uq_alert_events_open_rule",
        "alert_events",
        ["rule"],
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
        sqlite_where=sa.text("resolved_at IS NULL"),
    )

    lease = op.create_table(
        "sidecar_lease",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sidecar_lease")),
    )
    op.bulk_insert(lease, [{"name": "snapshots", "holder": None, "epoch": 0, "expires_at": None}])
    deployment = op.create_table(
        "deployment",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment")),
    )
    # This database's identity: every Redis key and channel of the sidecar carries it.
    op.bulk_insert(deployment, [{"id": uuid.uuid4().hex[:16], "created_at": datetime.now(UTC)}])


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _contract_tables()
    _derived_tables(dialect)
    _sidecar_tables()
    bind = op.get_bind()
    # The single totals row SQLite's triggers update (PostgreSQL's are summed: a zero row is harmless).
    bind.exec_driver_sql("INSERT INTO snapshot_totals (id) VALUES (1)")
    if dialect == "postgresql":
        bind.exec_driver_sql("SELECT setval(pg_get_serial_sequence('snapshot_totals', 'id'), 1)")
        # Day tables kept from yesterday on (UTC); the sidecar re-keys them for its own zone.
        bind.exec_driver_sql(
            "INSERT INTO active_days_config (zone, since_day) VALUES ('UTC', (now() AT TIME ZONE 'UTC')::date - 1)"
        )
    for _, statement in _frozen_statements(dialect):
        # Straight to the driver: the SQL holds literal colons (times) that text() would take for binds.
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite":
        for name, _ in _frozen_statements(dialect):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name.removeprefix('trigger ')}")
    tables = (
        "deployment",
        "sidecar_lease",
        "alert_events",
        "snapshot_log",
        "active_user_day_deltas",
        "active_day_counts",
        "active_user_days",
        "active_days_config",
        "snapshot_totals",
        "rollup_content_day",
        "rollup_content_hour",
        "rollup_views_15m",
        "rollup_sales_15m",
        "user_activity",
        "content_views",
        "transactions",
    )
    for table in tables:
        op.drop_table(table)  # PostgreSQL drops a table's triggers with it
    if dialect == "postgresql":
        for name, _ in _frozen_statements(dialect):
            if name.startswith("function "):
                bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name.removeprefix('function ')}()")
