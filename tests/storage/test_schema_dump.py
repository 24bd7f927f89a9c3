"""The schema a migrated database ends up with, on both databases, is what was reviewed.

- `tests/storage/schema/<dialect>.sql` holds the dump (tables, columns, keys, indexes, triggers,
  functions) of a database migrated to head. A change to the schema shows here as a diff to
  review. After a deliberate change, regenerate the files and commit them:

      UPDATE_SCHEMA=1 .venv/bin/python -m pytest -q tests/storage/test_schema_dump.py

- Alembic autogenerate against a migrated database proposes nothing: every table and index is
  declared in `server.storage.models`.
- Every trigger and function in the database is the one in `server/storage/sql/` (the live files
  must say what the migrations installed), and every advisory-lock key in that SQL is one of
  `server.storage.locks`.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage import locks, sql
from server.storage.migrate import alembic_config
from server.storage.models import Base, include_object_for

SCHEMA_DIR = Path(__file__).parent / "schema"

_PG_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind = 'r'
ORDER BY c.relname, a.attnum
"""
_PG_CONSTRAINTS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2
"""
_PG_INDEXES = "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY tablename, indexname"
_PG_TRIGGERS = """
SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname, t.tgname
"""
_PG_FUNCTIONS = """
SELECT proname, pg_get_function_result(oid), prosrc FROM pg_proc
WHERE pronamespace = current_schema()::regnamespace ORDER BY proname
"""


def _dump(connection: Connection) -> str:
    """The schema as reviewable text (the Alembic bookkeeping table left out)."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name <> 'alembic_version'"
            " AND tbl_name <> 'alembic_version' ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END,"
            " tbl_name, name"
        ).all()
        return "".join(f"-- {kind} {name}\n{text.strip()};\n\n" for kind, name, text in rows)
    out: list[str] = []
    table = None
    for name, column, type_, not_null, default in connection.exec_driver_sql(_PG_COLUMNS).all():
        if name == "alembic_version":
            continue
        if name != table:
            out.append(f"\n-- table {name}")
            table = name
        out.append(f"    {column} {type_}{' NOT NULL' if not_null else ''}{f' DEFAULT {default}' if default else ''}")
    out.append("\n-- constraints")
    out.extend(
        f"{name}: {constraint} {definition}"
        for name, constraint, definition in connection.exec_driver_sql(_PG_CONSTRAINTS).all()
        if name != "alembic_version"
    )
    out.append("\n-- indexes")
    out.extend(f"{d};" for (d,) in connection.exec_driver_sql(_PG_INDEXES).all() if "alembic_version" not in d)
    out.append("\n-- triggers")
    out.extend(f"{d};" for (d,) in connection.exec_driver_sql(_PG_TRIGGERS).all())
    for name, result, source in connection.exec_driver_sql(_PG_FUNCTIONS).all():
        out.append(f"\n-- function {name}() RETURNS {result}\n{source.strip()}")
    return "\n".join(out).strip() + "\n"


async def test_the_migrated_schema_is_the_reviewed_one(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        dumped = await conn.run_sync(_dump)
    expected_file = SCHEMA_DIR / f"{engine.dialect.name}.sql"
    if os.environ.get("UPDATE_SCHEMA"):
        expected_file.write_text(dumped, encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            dumped.splitlines(keepends=True),
            fromfile=f"{expected_file} (reviewed)",
            tofile="migrated database",
        )
    )
    assert dumped == expected, (
        "the migrated schema differs from the reviewed dump; if the change is meant, regenerate it"
        f" with UPDATE_SCHEMA=1 and commit it:\n{diff}"
    )


def _autogenerate(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"include_object": include_object_for(connection.dialect.name), "compare_type": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_autogenerate_against_a_migrated_database_proposes_nothing(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        proposed = await conn.run_sync(_autogenerate)
    assert proposed == []


def _normalized(statement: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"--[^\n]*", "", statement)).strip()


def _installed(connection: Connection) -> dict[str, str]:
    """{'trigger name' / 'function name': its SQL} as the database holds it."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
        return {f"trigger {name}": _normalized(text) for name, text in rows}
    found = {
        f"function {name}": _normalized(source)
        for name, source in connection.exec_driver_sql(
            "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
        ).all()
    }
    triggers = connection.exec_driver_sql(
        "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
    ).scalars()
    found.update({f"trigger {name}": "" for name in triggers})
    return found


def _declared(dialect: str) -> dict[str, str]:
    """The same, from the live files: a function by its body, a trigger by its name (PostgreSQL
    rewrites a trigger's text)."""
    declared: dict[str, str] = {}
    for job in sql.jobs(dialect):
        for name, statement in sql.statements(dialect, job).items():
            if name.startswith("function "):
                declared[name] = _normalized(statement.split("$$")[1])
            elif name.startswith("trigger "):
                declared[name] = _normalized(statement) if dialect == "sqlite" else ""
    return declared


async def test_the_database_runs_the_triggers_and_functions_of_the_sql_files(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        installed = await conn.run_sync(_installed)
    declared = _declared(engine.dialect.name)
    assert sorted(installed) == sorted(declared)
    for name, text in declared.items():
        assert installed[name] == text, f"{name} in the database is not the one in server/storage/sql/"


def test_every_lock_key_in_the_sql_is_one_of_the_lock_module() -> None:
    files = [*sql.SQL_DIR.glob("*/*.sql"), *(Path(sql.__file__).parent.parent / "migrations").glob("versions/*.sql")]
    keys = {int(key) for path in files for key in re.findall(r"pg_advisory_\w+\((\d+)\)", path.read_text())}
    assert keys == {locks.ACTIVE_DAYS}


def _downgrade_and_upgrade(connection: Connection, to: str) -> None:
    config = alembic_config(connection)
    command.downgrade(config, to)
    command.upgrade(config, "head")


async def test_the_migrations_after_the_baseline_go_down_and_up_again(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        before = await conn.run_sync(_dump)
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade_and_upgrade, "baseline")
    async with engine.connect() as conn:
        assert await conn.run_sync(_dump) == before
