"""SQLite: keep timestamp text canonical, whoever writes it.

SQLite compares these columns as text. The contract lets the platform write
`YYYY-MM-DD HH:MM:SS[.ffffff]`, and `...:SS.000000` or `...:SS.5` sort differently from the
same instants written as `...:SS` or `...:SS.500000`. These triggers rewrite any row written
with a fraction into the sidecar's own form (no fraction for a whole second, else six digits),
so that every comparison at a boundary is exact. PostgreSQL stores timestamptz: nothing to do.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIME_COLUMNS = {
    "transactions": ("created_at", "completed_at", "status_changed_at"),
    "content_views": ("viewed_at",),
    "user_activity": ("at",),
}


def _canonical(value: str) -> str:
    fraction = f"substr({value}, 21)"
    return (
        f"CASE WHEN rtrim({fraction}, '0') = '' THEN substr({value}, 1, 19)"
        f" ELSE substr({value}, 1, 20) || substr({fraction} || '000000', 1, 6) END"
    )


def _triggers() -> list[tuple[str, str]]:
    triggers = []
    for table, columns in TIME_COLUMNS.items():
        for column in columns:
            value = f"NEW.{column}"
            condition = f"length({value}) > 19 AND substr({value}, 20, 1) = '.' AND {value} <> {_canonical(value)}"
            body = f"UPDATE {table} SET {column} = {_canonical(value)} WHERE rowid = NEW.rowid;"
            for event, suffix in ((f"INSERT ON {table}", "ins"), (f"UPDATE OF {column} ON {table}", "upd")):
                name = f"canonical_{table}_{column}_{suffix}"
                triggers.append(
                    (name, f"CREATE TRIGGER {name} AFTER {event} FOR EACH ROW WHEN {condition} BEGIN {body} END")
                )
    return triggers


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for _, statement in _triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, _ in _triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
