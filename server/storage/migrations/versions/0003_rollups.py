"""Rollups that keep history queries fast at any size, maintained by triggers.

`rollup_sales_15m` (completed transactions by completion time) and `rollup_views_15m` per UTC
quarter hour; `rollup_content_hour` and `rollup_content_day` per content per UTC hour and day.
Money is integer cents. Quarter hours line up with local midnight in every time zone in use, so
a local-calendar bucket is a sum of rollup rows; `server.storage.rollups` reads raw rows only for
edges that do not line up.

Triggers keep them exact for every write, through the API or straight into the tables: on
PostgreSQL statement-level triggers with transition tables (one upsert per bucket per statement),
on SQLite row-level triggers. Existing rows are rolled up here, once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.storage.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
_PG_BUCKET = {
    "15m": f"date_bin('15 minutes', {{t}}, {_ORIGIN})",
    "hour": f"date_bin('1 hour', {{t}}, {_ORIGIN})",
    "day": f"date_bin('1 day', {{t}}, {_ORIGIN})",
}
_SQLITE_BUCKET = {
    "15m": "substr({t}, 1, 14) || printf('%02d', (CAST(substr({t}, 15, 2) AS INTEGER) / 15) * 15) || ':00'",
    "hour": "substr({t}, 1, 13) || ':00:00'",
    "day": "substr({t}, 1, 10) || ' 00:00:00'",
}
_TABLES = ("rollup_sales_15m", "rollup_views_15m", "rollup_content_hour", "rollup_content_day")


def _create_tables() -> None:
    op.create_table(
        "rollup_sales_15m",
        sa.Column("bucket", UtcDateTime(), primary_key=True),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("purchases", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "rollup_views_15m",
        sa.Column("bucket", UtcDateTime(), primary_key=True),
        sa.Column("views", sa.BigInteger(), nullable=False),
    )
    for name in ("rollup_content_hour", "rollup_content_day"):
        op.create_table(
            name,
            sa.Column("bucket", UtcDateTime(), primary_key=True),
            sa.Column("content_id", sa.Text(), primary_key=True),
            sa.Column("views", sa.BigInteger(), nullable=False),
            sa.Column("purchases", sa.BigInteger(), nullable=False),
            sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        )


# -- PostgreSQL ------------------------------------------------------------------------------


def _pg_sales_source(rows: str, sign: int) -> str:
    return (
        f"SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents,"
        f" {sign} AS sign FROM {rows} WHERE status = 'completed'"
    )


def _pg_views_source(rows: str, sign: int) -> str:
    return f"SELECT viewed_at AS at, content_id, 0::bigint AS cents, {sign} AS sign FROM {rows}"


def _pg_upserts(source: str, kind: str) -> str:
    """Statements adding the signed rows of `source` (at, content_id, cents, sign) to the rollups."""
    b15, bh, bd = (_PG_BUCKET[k].format(t="at") for k in ("15m", "hour", "day"))
    if kind == "sales":
        total = (
            f"INSERT INTO rollup_sales_15m AS r (bucket, revenue_cents, purchases)"
            f" SELECT {b15}, sum(sign * cents), sum(sign) FROM ({source}) c GROUP BY 1"
            f" HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0"
            f" ON CONFLICT (bucket) DO UPDATE SET revenue_cents = r.revenue_cents + EXCLUDED.revenue_cents,"
            f" purchases = r.purchases + EXCLUDED.purchases;"
        )
        views, purchases, cents = "0", "sum(sign)", "sum(sign * cents)"
    else:
        total = (
            f"INSERT INTO rollup_views_15m AS r (bucket, views)"
            f" SELECT {b15}, sum(sign) FROM ({source}) c GROUP BY 1 HAVING sum(sign) <> 0"
            f" ON CONFLICT (bucket) DO UPDATE SET views = r.views + EXCLUDED.views;"
        )
        views, purchases, cents = "sum(sign)", "0", "0"
    statements = [total]
    for table, bucket in (("rollup_content_hour", bh), ("rollup_content_day", bd)):
        statements.append(
            f"INSERT INTO {table} AS r (bucket, content_id, views, purchases, revenue_cents)"
            f" SELECT {bucket}, content_id, {views}, {purchases}, {cents} FROM ({source}) c"
            f" WHERE content_id IS NOT NULL GROUP BY 1, 2 HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0"
            f" ON CONFLICT (bucket, content_id) DO UPDATE SET views = r.views + EXCLUDED.views,"
            f" purchases = r.purchases + EXCLUDED.purchases, revenue_cents = r.revenue_cents + EXCLUDED.revenue_cents;"
        )
    return "\n".join(statements)


def _pg_triggers() -> list[str]:
    statements = []
    for table, kind, source in (
        ("transactions", "sales", _pg_sales_source),
        ("content_views", "views", _pg_views_source),
    ):
        for op_name, referencing, body in (
            ("insert", "NEW TABLE AS new_rows", source("new_rows", 1)),
            (
                "update",
                "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                f"{source('old_rows', -1)} UNION ALL {source('new_rows', 1)}",
            ),
            ("delete", "OLD TABLE AS old_rows", source("old_rows", -1)),
        ):
            function = f"rollup_{table}_{op_name}"
            statements.append(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n{_pg_upserts(body, kind)}\nRETURN NULL;\nEND\n$$"
            )
            statements.append(
                f"CREATE TRIGGER {function} AFTER {op_name.upper()} ON {table} REFERENCING {referencing}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    # TRUNCATE fires no row or DELETE triggers: clear what the emptied table contributed.
    for table, body in (
        (
            "transactions",
            "TRUNCATE rollup_sales_15m;"
            " UPDATE rollup_content_hour SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0;"
            " UPDATE rollup_content_day SET purchases = 0, revenue_cents = 0 WHERE purchases <> 0;",
        ),
        (
            "content_views",
            "TRUNCATE rollup_views_15m;"
            " UPDATE rollup_content_hour SET views = 0 WHERE views <> 0;"
            " UPDATE rollup_content_day SET views = 0 WHERE views <> 0;",
        ),
    ):
        function = f"rollup_{table}_truncate"
        statements.append(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}\nRETURN NULL;\nEND\n$$"
        )
        statements.append(
            f"CREATE TRIGGER {function} AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    return statements


# -- SQLite ----------------------------------------------------------------------------------


def _sqlite_add(row: str, kind: str, sign: str) -> list[str]:
    """Statements adding one row (NEW or OLD) to the rollups, with `sign` +1 or -1."""
    if kind == "sales":
        t = f"coalesce({row}.completed_at, {row}.created_at)"
        cents = f"{sign} * CAST(round({row}.amount * 100) AS INTEGER)"
        statements = [
            f"INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)"
            f" VALUES ({_SQLITE_BUCKET['15m'].format(t=t)}, {cents}, {sign})"
            f" ON CONFLICT (bucket) DO UPDATE SET revenue_cents = revenue_cents + excluded.revenue_cents,"
            f" purchases = purchases + excluded.purchases;"
        ]
        views, purchases = "0", sign
        condition = f"{row}.status = 'completed' AND {row}.content_id IS NOT NULL"
    else:
        t = f"{row}.viewed_at"
        cents = "0"
        statements = [
            f"INSERT INTO rollup_views_15m (bucket, views) VALUES ({_SQLITE_BUCKET['15m'].format(t=t)}, {sign})"
            f" ON CONFLICT (bucket) DO UPDATE SET views = views + excluded.views;"
        ]
        views, purchases = sign, "0"
        condition = "1"
    for table, level in (("rollup_content_hour", "hour"), ("rollup_content_day", "day")):
        statements.append(
            f"INSERT INTO {table} (bucket, content_id, views, purchases, revenue_cents)"
            f" SELECT {_SQLITE_BUCKET[level].format(t=t)}, {row}.content_id, {views}, {purchases}, {cents}"
            f" WHERE {condition}"
            f" ON CONFLICT (bucket, content_id) DO UPDATE SET views = views + excluded.views,"
            f" purchases = purchases + excluded.purchases, revenue_cents = revenue_cents + excluded.revenue_cents;"
        )
    return statements


def _sqlite_triggers() -> list[str]:
    statements = []
    for table, kind, counted in (
        ("transactions", "sales", "{row}.status = 'completed'"),
        ("content_views", "views", "1"),
    ):
        for op_name, parts in (
            ("insert", [("NEW", "1")]),
            ("update", [("OLD", "-1"), ("NEW", "1")]),
            ("delete", [("OLD", "-1")]),
        ):
            for row, sign in parts:
                name = f"rollup_{table}_{op_name}_{row.lower()}"
                body = " ".join(_sqlite_add(row, kind, sign))
                statements.append(
                    f"CREATE TRIGGER {name} AFTER {op_name.upper()} ON {table} FOR EACH ROW"
                    f" WHEN {counted.format(row=row)} BEGIN {body} END"
                )
    return statements


def _run(statement: str) -> None:
    # Straight to the driver: the SQL holds literal colons (times) that text() would take for binds.
    op.get_bind().exec_driver_sql(statement)


# -- backfill --------------------------------------------------------------------------------


def _backfill(dialect: str) -> None:
    bucket = _PG_BUCKET if dialect == "postgresql" else _SQLITE_BUCKET
    cents = "(amount * 100)::bigint" if dialect == "postgresql" else "CAST(round(amount * 100) AS INTEGER)"
    done = "coalesce(completed_at, created_at)"
    _run(
        f"INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)"
        f" SELECT {bucket['15m'].format(t=done)}, sum({cents}), count(*) FROM transactions"
        f" WHERE status = 'completed' GROUP BY 1"
    )
    _run(
        f"INSERT INTO rollup_views_15m (bucket, views)"
        f" SELECT {bucket['15m'].format(t='viewed_at')}, count(*) FROM content_views GROUP BY 1"
    )
    for table, level in (("rollup_content_hour", "hour"), ("rollup_content_day", "day")):
        _run(
            f"INSERT INTO {table} (bucket, content_id, views, purchases, revenue_cents)"
            f" SELECT bucket, content_id, sum(views), sum(purchases), sum(cents) FROM ("
            f" SELECT {bucket[level].format(t='viewed_at')} AS bucket, content_id, 1 AS views, 0 AS purchases,"
            f" 0 AS cents FROM content_views"
            f" UNION ALL SELECT {bucket[level].format(t=done)}, content_id, 0, 1, {cents} FROM transactions"
            f" WHERE status = 'completed' AND content_id IS NOT NULL) c GROUP BY bucket, content_id"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_tables()
    _backfill(dialect)
    for statement in _pg_triggers() if dialect == "postgresql" else _sqlite_triggers():
        _run(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in ("transactions", "content_views"):
        for op_name in ("insert", "update", "delete", "truncate"):
            if dialect == "postgresql":
                op.execute(f"DROP TRIGGER IF EXISTS rollup_{table}_{op_name} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS rollup_{table}_{op_name}()")
            elif op_name != "truncate":
                for row in ("new", "old"):
                    op.execute(f"DROP TRIGGER IF EXISTS rollup_{table}_{op_name}_{row}")
    for table in _TABLES:
        op.drop_table(table)
