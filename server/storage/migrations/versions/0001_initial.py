"""The contract's three tables, the snapshot log, and the status-change trigger.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.storage.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# A direct `UPDATE transactions SET status = ...` that does not say when gets the time of the update,
# so that the move counts as the user's activity like one sent through the API.
_PG_TRIGGER = """
CREATE FUNCTION transactions_status_changed() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NEW.status_changed_at IS NOT DISTINCT FROM OLD.status_changed_at THEN
        NEW.status_changed_at := CASE
            WHEN NEW.status = 'completed' AND NEW.completed_at IS NOT NULL THEN NEW.completed_at
            ELSE now() END;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER_BIND = """
CREATE TRIGGER transactions_status_changed BEFORE UPDATE OF status ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_status_changed()
"""

_SQLITE_TRIGGER = """
CREATE TRIGGER transactions_status_changed AFTER UPDATE OF status ON transactions
FOR EACH ROW WHEN NEW.status IS NOT OLD.status AND NEW.status_changed_at IS OLD.status_changed_at
BEGIN
    UPDATE transactions SET status_changed_at = CASE
        WHEN NEW.status = 'completed' AND NEW.completed_at IS NOT NULL THEN NEW.completed_at
        ELSE strftime('%Y-%m-%d %H:%M:%f', 'now') END
    WHERE id = NEW.id;
END
"""


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("content_id", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("status_changed_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'completed', 'failed')", name="ck_transactions_status"),
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
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        sa.Column("content_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("viewed_at", UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.UniqueConstraint("event_id", name="uq_content_views_event_id"),
    )
    op.create_index("ix_content_views_viewed_user", "content_views", ["viewed_at", "user_id"])
    op.create_index("ix_content_views_content", "content_views", ["content_id"])

    op.create_table(
        "user_activity",
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.UniqueConstraint("event_id", name="uq_user_activity_event_id"),
    )
    op.create_index("ix_user_activity_at_user", "user_activity", ["at", "user_id"])

    op.create_table(
        "snapshot_log",
        sa.Column("snapshot_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("computed_at", UtcDateTime(), nullable=False),
        sa.Column("active_current", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_snapshot_log_computed_at", "snapshot_log", ["computed_at"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_TRIGGER)
        op.execute(_PG_TRIGGER_BIND)
    else:
        op.execute(_SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS transactions_status_changed ON transactions")
        op.execute("DROP FUNCTION IF EXISTS transactions_status_changed()")
    else:
        op.execute("DROP TRIGGER IF EXISTS transactions_status_changed")
    for table in ("snapshot_log", "user_activity", "content_views", "transactions"):
        op.drop_table(table)
