"""PostgreSQL: the triggers append rows of deltas, no upsert, so that writers share no row.

Migrations 0003 and 0006 upserted one row per bucket (per bucket and content, per local day and
user) in each statement, so batches written at the same time waited on each other's row locks
until commit, and took them in varying order across tables, deadlocking. Now:
- The rollups get, per statement, one row of signed sums per bucket (and content). A bucket's
  figure is the sum of its rows, as the readers (`server.storage.rollups`,
  `server.storage.snapshot_inputs`) already take it; the snapshot folds the recent buckets' rows
  into one each now and then. The primary keys go; indexes on the bucket carry the measures.
- The activity moments per local day and user go, per statement, to `active_user_day_deltas`
  (no key). The snapshot folds them into `active_user_days` (the only writer left there, one
  at a time) and appends the change in users per day to `active_day_counts` as the triggers
  did; until then the reader adds the unfolded deltas itself.
SQLite keeps its keys and row-level upserts (its writers take turns anyway).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
_BUCKET = {step: f"date_bin('1 {step}', at, {_ORIGIN})" for step in ("hour", "day")}
_QUARTER = f"date_bin('15 minutes', at, {_ORIGIN})"
_NEW_INDEXES = {
    "rollup_sales_15m": "CREATE INDEX ix_rollup_sales_15m_bucket ON rollup_sales_15m (bucket)"
    " INCLUDE (revenue_cents, purchases)",
    "rollup_views_15m": "CREATE INDEX ix_rollup_views_15m_bucket ON rollup_views_15m (bucket) INCLUDE (views)",
}
_CONTENT = ("rollup_content_hour", "rollup_content_day")


def _sales_source(rows: str, sign: int) -> str:
    return (
        f"SELECT coalesce(completed_at, created_at) AS at, content_id, (amount * 100)::bigint AS cents,"
        f" {sign} AS sign FROM {rows} WHERE status = 'completed'"
    )


def _views_source(rows: str, sign: int) -> str:
    return f"SELECT viewed_at AS at, content_id, 0::bigint AS cents, {sign} AS sign FROM {rows}"


def _appends(source: str, kind: str) -> str:
    """Statements appending the signed sums of `source` (at, content_id, cents, sign) per bucket."""
    nonzero = "HAVING sum(sign) <> 0 OR sum(sign * cents) <> 0"
    if kind == "sales":
        statements = [
            f"INSERT INTO rollup_sales_15m (bucket, revenue_cents, purchases)"
            f" SELECT {_QUARTER}, sum(sign * cents), sum(sign) FROM ({source}) c GROUP BY 1 {nonzero};"
        ]
        views, purchases, cents = "0", "sum(sign)", "sum(sign * cents)"
    else:
        statements = [
            f"INSERT INTO rollup_views_15m (bucket, views)"
            f" SELECT {_QUARTER}, sum(sign) FROM ({source}) c GROUP BY 1 HAVING sum(sign) <> 0;"
        ]
        views, purchases, cents = "sum(sign)", "0", "0"
    for table, step in zip(_CONTENT, ("hour", "day"), strict=True):
        statements.append(
            f"INSERT INTO {table} (bucket, content_id, views, purchases, revenue_cents)"
            f" SELECT {_BUCKET[step]}, content_id, {views}, {purchases}, {cents} FROM ({source}) c"
            f" WHERE content_id IS NOT NULL GROUP BY 1, 2 {nonzero};"
        )
    return "\n".join(statements)


def _functions() -> list[str]:
    statements = []
    for table, kind, source in (("transactions", "sales", _sales_source), ("content_views", "views", _views_source)):
        for op_name, body in (
            ("insert", source("new_rows", 1)),
            ("update", f"{source('old_rows', -1)} UNION ALL {source('new_rows', 1)}"),
            ("delete", source("old_rows", -1)),
        ):
            statements.append(
                f"CREATE OR REPLACE FUNCTION rollup_{table}_{op_name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n{_appends(body, kind)}\nRETURN NULL;\nEND\n$$"
            )
    return statements


def _previous(name: str) -> Any:
    """An earlier migration's module (file names starting with a digit cannot be imported)."""
    spec = importlib.util.spec_from_file_location(f"migration_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _snapshot_functions() -> list[str]:
    """0006's snapshot trigger functions with the day moments appended as deltas, and its
    rebuild clearing the deltas too."""
    counters = _previous("0006_snapshot_counters")
    rebuild = counters._PG_REBUILD.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    cleared = "DELETE FROM active_day_counts;"
    assert rebuild.count(cleared) == 1
    statements = [rebuild.replace(cleared, f"{cleared}\n    DELETE FROM active_user_day_deltas;")]
    for table in counters._SOURCES:
        for op_name, rows in (
            ("insert", [("new_rows", 1)]),
            ("update", [("old_rows", -1), ("new_rows", 1)]),
            ("delete", [("old_rows", -1)]),
        ):
            body = []
            if table != "user_activity" and not (table == "content_views" and op_name == "update"):
                body.append(counters._pg_totals(table, rows))
            moments = " UNION ALL ".join(counters._pg_moments(table, name, sign) for name, sign in rows)
            body.append(
                f"PERFORM pg_advisory_xact_lock_shared({counters.ACTIVE_DAYS_LOCK});\n"
                "INSERT INTO active_user_day_deltas (day, user_id, n)"
                " SELECT (m.t AT TIME ZONE cfg.zone)::date, m.user_id, sum(m.sign)"
                f" FROM ({moments}) m CROSS JOIN (SELECT zone, since_day FROM active_days_config LIMIT 1) cfg"
                " WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day GROUP BY 1, 2 HAVING sum(m.sign) <> 0;"
            )
            statements.append(
                f"CREATE OR REPLACE FUNCTION snapshot_{table}_{op_name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n{chr(10).join(body)}\nRETURN NULL;\nEND\n$$"
            )
    return statements


# Deltas into the day rows; the change in users with at least one moment into the day counts.
_FOLD_ACTIVE_DAYS = (
    "WITH gone AS (DELETE FROM active_user_day_deltas RETURNING day, user_id, n),"
    " c AS (SELECT day, user_id, sum(n) AS d FROM gone GROUP BY 1, 2 HAVING sum(n) <> 0),"
    " up AS (INSERT INTO active_user_days AS r (day, user_id, n) SELECT day, user_id, d FROM c"
    " ORDER BY day, user_id ON CONFLICT (day, user_id) DO UPDATE SET n = r.n + EXCLUDED.n"
    " RETURNING r.day, r.user_id, r.n),"
    " moved AS (SELECT up.day, CASE WHEN up.n > 0 AND up.n - c.d <= 0 THEN 1"
    " WHEN up.n <= 0 AND up.n - c.d > 0 THEN -1 ELSE 0 END AS users"
    " FROM up JOIN c ON c.day = up.day AND c.user_id = up.user_id)"
    " INSERT INTO active_day_counts (day, users) SELECT day, sum(users) FROM moved GROUP BY day HAVING sum(users) <> 0"
)


def _run(statement: str) -> None:
    # Straight to the driver: the SQL holds literal colons (times) that text() would take for binds.
    op.get_bind().exec_driver_sql(statement)


def _fold_all() -> None:
    """One row per bucket (per bucket and content), as the primary keys of 0003 want."""
    for table, key, measures in (
        ("rollup_sales_15m", "bucket", ("revenue_cents", "purchases")),
        ("rollup_views_15m", "bucket", ("views",)),
        *((table, "bucket, content_id", ("views", "purchases", "revenue_cents")) for table in _CONTENT),
    ):
        sums = ", ".join(f"sum({m})" for m in measures)
        _run(
            f"WITH gone AS (DELETE FROM {table} RETURNING *)"
            f" INSERT INTO {table} ({key}, {', '.join(measures)}) SELECT {key}, {sums} FROM gone GROUP BY {key}"
        )


_LOCKED = ", ".join(
    ("transactions", "content_views", "user_activity", "rollup_sales_15m", "rollup_views_15m", *_CONTENT)
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _run(f"LOCK TABLE {_LOCKED}")
    _run("CREATE TABLE active_user_day_deltas (day DATE NOT NULL, user_id TEXT NOT NULL, n BIGINT NOT NULL)")
    _run("CREATE INDEX ix_active_user_day_deltas_day ON active_user_day_deltas (day, user_id) INCLUDE (n)")
    for statement in _functions() + _snapshot_functions():
        _run(statement)
    for table, index in _NEW_INDEXES.items():
        _run(index)
        _run(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
    for table in _CONTENT:
        _run(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _run(f"LOCK TABLE {_LOCKED}")
    _run(_FOLD_ACTIVE_DAYS)
    _fold_all()
    for table in _NEW_INDEXES:
        _run(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (bucket)")
        _run(f"DROP INDEX ix_{table}_bucket")
    for table in _CONTENT:
        _run(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (bucket, content_id)")
    for statement in _previous("0003_rollups")._pg_triggers() + _previous("0006_snapshot_counters")._pg_triggers():
        statement = statement.strip()
        if statement.startswith("CREATE FUNCTION") and "_truncate()" not in statement.split("\n", 1)[0]:
            _run(statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    _run("DROP TABLE active_user_day_deltas")
