"""The content catalogue: the `content` table (id, title, category), which the platform may write.

Frozen like the baseline: the table is declared here as it was when this migration was written,
without importing the live models. No trigger: nothing is derived from the catalogue, it is read
when content is shown.

Revision ID: catalogue
Revises: baseline
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "catalogue"
down_revision = "baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content")),
    )


def downgrade() -> None:
    op.drop_table("content")
