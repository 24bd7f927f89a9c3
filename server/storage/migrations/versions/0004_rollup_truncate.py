"""A TRUNCATE of `transactions` zeroes every content rollup row with purchases or revenue.

PostgreSQL only (SQLite has no TRUNCATE; its DELETE runs the row triggers). The function is
replaced by the frozen copy next to this file (`0004_rollup_truncate.postgresql.sql`); the trigger
that calls it is unchanged. The baseline's version zeroed only rows with purchases, so a row of
revenue alone (appended when a completed transaction's amount changed) survived a TRUNCATE.

Revision ID: rollup_truncate
Revises: late_activity
Create Date: 2026-12-04
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

from server.storage.migrations.frozen import frozen_statements

revision = "rollup_truncate"
down_revision = "late_activity"
branch_labels = None
depends_on = None

_FROZEN = Path(__file__).with_name("0004_rollup_truncate.postgresql.sql")


def _function() -> str:
    [(_, statement)] = frozen_statements(_FROZEN)
    return statement


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(_function().replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        old = _function().replace(" OR revenue_cents <> 0", "")
        bind.exec_driver_sql(old.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
