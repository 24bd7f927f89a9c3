"""PostgreSQL: covering indexes on the per-content rollups, for index-only range scans.

A top-content query reads every content's row of each hour and day in its range; with the
measures in the index, PostgreSQL reads them from the index alone instead of visiting the heap.
SQLite has no INCLUDE; its primary keys (bucket, content_id) already serve the range.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = ("rollup_content_hour", "rollup_content_day")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        measures = "content_id, views, purchases, revenue_cents"
        op.execute(f"CREATE INDEX ix_{table}_covering ON {table} (bucket) INCLUDE ({measures})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_covering")
