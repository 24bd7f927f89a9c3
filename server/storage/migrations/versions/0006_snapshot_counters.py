"""What a snapshot reads, kept by triggers so that its cost does not grow with history.

- `snapshot_totals`: transactions by status, completed revenue (integer cents) and views, all
  time. On PostgreSQL every statement that writes `transactions` or `content_views` appends one
  row of signed deltas (no row that concurrent writers fight over); the snapshot sums the few
  rows and now and then folds them into one (`server.storage.snapshot_inputs`). On SQLite,
  whose writers take turns anyway, row triggers update a single row.
- PostgreSQL only, for `activeUsers.today` (a distinct count, not additive):
  `active_user_days` holds, per local day in `active_days_config.zone` and user, how many
  activity moments the user has that day (a `user_activity` row, a view with a user, a
  transaction's creation, completion and status change: one each), and `active_day_counts`
  appends per statement the change in the number of users with at least one. Days before
  `active_days_config.since_day` are not kept. The sidecar rebuilds both when its zone differs.
- An index on `snapshot_log (active_current, computed_at)` for the 24 h peak.

TRUNCATE fires no row triggers: the totals take back what the emptied table gave, and the day
tables are rebuilt from what is left.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Writers of the day tables take it shared; a rebuild (new zone, TRUNCATE) takes it exclusive.
ACTIVE_DAYS_LOCK = 7_306_152_012

_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MEASURES = ("pending", "completed", "failed", "revenue_cents", "views")


def _create_tables(dialect: str) -> None:
    op.create_table(
        "snapshot_totals",
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        *(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0") for name in _MEASURES),
        sa.PrimaryKeyConstraint("id", name="pk_snapshot_totals"),
    )
    op.create_index("ix_snapshot_log_active_current", "snapshot_log", ["active_current", "computed_at"])
    if dialect != "postgresql":
        return
    op.create_table(
        "active_days_config",
        sa.Column("zone", sa.Text(), nullable=False),
        sa.Column("since_day", sa.Date(), nullable=False),
    )
    op.create_table(
        "active_user_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "user_id", name="pk_active_user_days"),
    )
    op.create_table(
        "active_day_counts",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("users", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_active_day_counts"),
    )
    op.create_index("ix_active_day_counts_day", "active_day_counts", ["day", "users"])


# -- PostgreSQL ------------------------------------------------------------------------------


def _pg_totals(table: str, rows: list[tuple[str, int]]) -> str:
    """One INSERT of the signed deltas the transition tables `rows` [(name, sign)] bring."""
    if table == "transactions":
        source = " UNION ALL ".join(f"SELECT status, amount, {sign} AS sign FROM {name}" for name, sign in rows)
        return (
            "INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)"
            " SELECT coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0),"
            " coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0),"
            " coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0),"
            " coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0)"
            f" FROM ({source}) c"
            " HAVING (coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0) <> 0"
            " OR coalesce(sum(sign) FILTER (WHERE status = 'completed'), 0) <> 0"
            " OR coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0) <> 0"
            " OR coalesce(sum(sign * (amount * 100)::bigint) FILTER (WHERE status = 'completed'), 0) <> 0);"
        )
    source = " UNION ALL ".join(f"SELECT {sign} AS sign FROM {name}" for name, sign in rows)
    return f"INSERT INTO snapshot_totals (views) SELECT sum(sign) FROM ({source}) c HAVING coalesce(sum(sign), 0) <> 0;"


def _pg_moments(table: str, rows: str, sign: int) -> str:
    """(user_id, t, sign) for each activity moment in the transition table `rows`."""
    if table == "user_activity":
        return f"SELECT user_id, at AS t, {sign} AS sign FROM {rows}"
    if table == "content_views":
        return f"SELECT user_id, viewed_at AS t, {sign} AS sign FROM {rows} WHERE user_id IS NOT NULL"
    return " UNION ALL ".join(
        f"SELECT user_id, {column} AS t, {sign} AS sign FROM {rows} WHERE {column} IS NOT NULL"
        for column in ("created_at", "completed_at", "status_changed_at")
    )


def _pg_active_days(table: str, rows: list[tuple[str, int]]) -> str:
    """Add the moments of `rows` to `active_user_days`; append the change in users per day."""
    moments = " UNION ALL ".join(_pg_moments(table, name, sign) for name, sign in rows)
    moved = "CASE WHEN up.n > 0 AND up.n - c.d <= 0 THEN 1 WHEN up.n <= 0 AND up.n - c.d > 0 THEN -1 ELSE 0 END"
    return (
        f"PERFORM pg_advisory_xact_lock_shared({ACTIVE_DAYS_LOCK});\n"
        "WITH cfg AS (SELECT zone, since_day FROM active_days_config LIMIT 1),"
        " c AS (SELECT (m.t AT TIME ZONE cfg.zone)::date AS day, m.user_id, sum(m.sign)::bigint AS d"
        f" FROM ({moments}) m CROSS JOIN cfg WHERE (m.t AT TIME ZONE cfg.zone)::date >= cfg.since_day"
        " GROUP BY 1, 2 HAVING sum(m.sign) <> 0),"
        " up AS (INSERT INTO active_user_days AS r (day, user_id, n) SELECT day, user_id, d FROM c"
        " ORDER BY day, user_id ON CONFLICT (day, user_id) DO UPDATE SET n = r.n + EXCLUDED.n"
        " RETURNING r.day, r.user_id, r.n)"
        f" INSERT INTO active_day_counts (day, users) SELECT up.day, sum({moved}) FROM up"
        f" JOIN c ON c.day = up.day AND c.user_id = up.user_id GROUP BY up.day HAVING sum({moved}) <> 0;"
    )


_PG_REBUILD = f"""
CREATE FUNCTION active_days_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    z text;
    s date;
    lo timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock({ACTIVE_DAYS_LOCK});
    SELECT zone, since_day INTO z, s FROM active_days_config LIMIT 1;
    lo := (s - 1)::timestamp AT TIME ZONE z;
    DELETE FROM active_user_days;
    DELETE FROM active_day_counts;
    INSERT INTO active_user_days (day, user_id, n)
    SELECT (t AT TIME ZONE z)::date, user_id, count(*) FROM (
        SELECT user_id, at AS t FROM user_activity WHERE at >= lo
        UNION ALL SELECT user_id, viewed_at FROM content_views WHERE viewed_at >= lo AND user_id IS NOT NULL
        UNION ALL SELECT user_id, created_at FROM transactions WHERE created_at >= lo
        UNION ALL SELECT user_id, completed_at FROM transactions WHERE completed_at >= lo
        UNION ALL SELECT user_id, status_changed_at FROM transactions WHERE status_changed_at >= lo
    ) m WHERE (t AT TIME ZONE z)::date >= s GROUP BY 1, 2;
    INSERT INTO active_day_counts (day, users) SELECT day, count(*) FROM active_user_days GROUP BY day;
END
$$
"""

_SOURCES = ("transactions", "content_views", "user_activity")


def _pg_triggers() -> list[str]:
    statements = [_PG_REBUILD]
    for table in _SOURCES:
        for op_name, referencing, rows in (
            ("insert", "NEW TABLE AS new_rows", [("new_rows", 1)]),
            ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows", [("old_rows", -1), ("new_rows", 1)]),
            ("delete", "OLD TABLE AS old_rows", [("old_rows", -1)]),
        ):
            body = []
            if table != "user_activity" and not (table == "content_views" and op_name == "update"):
                body.append(_pg_totals(table, rows))
            body.append(_pg_active_days(table, rows))
            function = f"snapshot_{table}_{op_name}"
            statements.append(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n{chr(10).join(body)}\nRETURN NULL;\nEND\n$$"
            )
            statements.append(
                f"CREATE TRIGGER {function} AFTER {op_name.upper()} ON {table} REFERENCING {referencing}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
        # TRUNCATE: the emptied table's share of the totals is taken back (no writer of this
        # table is in flight: TRUNCATE holds its exclusive lock); the day tables are rebuilt.
        taken_back = {
            "transactions": "INSERT INTO snapshot_totals (pending, completed, failed, revenue_cents)"
            " SELECT -coalesce(sum(pending), 0), -coalesce(sum(completed), 0), -coalesce(sum(failed), 0),"
            " -coalesce(sum(revenue_cents), 0) FROM snapshot_totals;",
            "content_views": "INSERT INTO snapshot_totals (views)"
            " SELECT -coalesce(sum(views), 0) FROM snapshot_totals;",
            "user_activity": "",
        }[table]
        function = f"snapshot_{table}_truncate"
        statements.append(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{taken_back}\nPERFORM active_days_rebuild();\nRETURN NULL;\nEND\n$$"
        )
        statements.append(
            f"CREATE TRIGGER {function} AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    return statements


# -- SQLite ----------------------------------------------------------------------------------


def _sqlite_deltas(row: str, sign: str) -> str:
    cents = f"CASE WHEN {row}.status = 'completed' THEN CAST(round({row}.amount * 100) AS INTEGER) ELSE 0 END"
    return (
        f"pending = pending + {sign} * ({row}.status = 'pending'),"
        f" completed = completed + {sign} * ({row}.status = 'completed'),"
        f" failed = failed + {sign} * ({row}.status = 'failed'),"
        f" revenue_cents = revenue_cents + {sign} * {cents}"
    )


def _sqlite_triggers() -> list[str]:
    update = "UPDATE snapshot_totals SET {sets} WHERE id = 1;"
    changed = "WHEN OLD.status IS NOT NEW.status OR OLD.amount IS NOT NEW.amount"
    return [
        "CREATE TRIGGER snapshot_transactions_insert AFTER INSERT ON transactions FOR EACH ROW BEGIN "
        + update.format(sets=_sqlite_deltas("NEW", "1"))
        + " END",
        f"CREATE TRIGGER snapshot_transactions_update AFTER UPDATE ON transactions FOR EACH ROW {changed} BEGIN "
        + update.format(sets=_sqlite_deltas("OLD", "-1"))
        + " "
        + update.format(sets=_sqlite_deltas("NEW", "1"))
        + " END",
        "CREATE TRIGGER snapshot_transactions_delete AFTER DELETE ON transactions FOR EACH ROW BEGIN "
        + update.format(sets=_sqlite_deltas("OLD", "-1"))
        + " END",
        "CREATE TRIGGER snapshot_content_views_insert AFTER INSERT ON content_views FOR EACH ROW BEGIN "
        + update.format(sets="views = views + 1")
        + " END",
        "CREATE TRIGGER snapshot_content_views_delete AFTER DELETE ON content_views FOR EACH ROW BEGIN "
        + update.format(sets="views = views - 1")
        + " END",
    ]


def _run(statement: str) -> None:
    # Straight to the driver: the SQL holds literal colons that text() would take for binds.
    op.get_bind().exec_driver_sql(statement)


def _backfill(dialect: str) -> None:
    cents = "(amount * 100)::bigint" if dialect == "postgresql" else "CAST(round(amount * 100) AS INTEGER)"
    _run(
        "INSERT INTO snapshot_totals (id, pending, completed, failed, revenue_cents, views) SELECT 1,"
        " coalesce(sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0),"
        " coalesce(sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0),"
        " coalesce(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0),"
        f" coalesce(sum(CASE WHEN status = 'completed' THEN {cents} ELSE 0 END), 0),"
        " (SELECT count(*) FROM content_views) FROM transactions"
    )
    if dialect == "postgresql":
        # The delta rows' ids continue after the backfilled row.
        _run("SELECT setval(pg_get_serial_sequence('snapshot_totals', 'id'), 1)")
        # Keep the day tables from yesterday on (UTC); the sidecar rebuilds them for its own zone.
        _run("INSERT INTO active_days_config (zone, since_day) VALUES ('UTC', (now() AT TIME ZONE 'UTC')::date - 1)")
        _run("SELECT active_days_rebuild()")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_tables(dialect)
    if dialect == "postgresql":
        # Tables are locked for the backfill so that no write lands between it and the triggers.
        _run("LOCK TABLE transactions, content_views, user_activity IN SHARE ROW EXCLUSIVE MODE")
        statements = _pg_triggers()
        _run(statements[0])  # active_days_rebuild(), used by the backfill
        _backfill(dialect)
        for statement in statements[1:]:
            _run(statement)
    else:
        _backfill(dialect)
        for statement in _sqlite_triggers():
            _run(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in _SOURCES:
            for op_name in ("insert", "update", "delete", "truncate"):
                op.execute(f"DROP TRIGGER IF EXISTS snapshot_{table}_{op_name} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS snapshot_{table}_{op_name}()")
        op.execute("DROP FUNCTION IF EXISTS active_days_rebuild()")
        for table in ("active_day_counts", "active_user_days", "active_days_config"):
            op.drop_table(table)
    else:
        for name in ("transactions_insert", "transactions_update", "transactions_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS snapshot_{name}")
        for name in ("content_views_insert", "content_views_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS snapshot_{name}")
    op.drop_index("ix_snapshot_log_active_current", table_name="snapshot_log")
    op.drop_table("snapshot_totals")
