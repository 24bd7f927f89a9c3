"""Who computes the snapshots, decided in the database; and this database's deployment id.

- `sidecar_lease`: one row per job that one instance at a time does (`snapshots`). An instance
  holds it while `expires_at` is ahead and renews it; `epoch` grows with every new holder, and a
  snapshot is written only by the holder of the current epoch (the insert checks it), so a
  paused or cut-off former holder can never write a snapshot id that a newer one also writes.
  The lease used to live in Redis, where each instance fell back to computing alone when Redis
  went away.
- `deployment`: one random id made when the schema is first created. The sidecar puts it in every
  Redis key and channel, so that a fresh database never reads another deployment's snapshots
  that are still in a shared Redis under the same prefix.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from server.storage.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    lease = op.create_table(
        "sidecar_lease",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_sidecar_lease"),
    )
    op.bulk_insert(lease, [{"name": "snapshots", "holder": None, "epoch": 0, "expires_at": None}])
    deployment = op.create_table(
        "deployment",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment"),
    )
    op.bulk_insert(deployment, [{"id": uuid.uuid4().hex[:16], "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("deployment")
    op.drop_table("sidecar_lease")
