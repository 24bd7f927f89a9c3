"""The derived data's SQL, one readable file per dialect and job, and the loader that reads it.

    server/storage/sql/postgresql/<job>.sql
    server/storage/sql/sqlite/<job>.sql

A file is a comment saying what the job is, then statements, each under a line
`-- name: <name>`. Full-line comments are kept out of the statements (their text may hold
colons, which `text()` would take for bind parameters). Trigger and function files are what the
newest migration installed: a migration holds a frozen copy of its own, and
`tests/storage/test_schema_dump.py` checks that a migrated database matches these files.
"""

from __future__ import annotations

import functools
from pathlib import Path

SQL_DIR = Path(__file__).parent
DIALECTS = ("postgresql", "sqlite")
_MARKER = "-- name:"


def parse(source: str) -> dict[str, str]:
    """`{name: statement}` of one file's text, in file order, without comments or the final `;`."""
    statements: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in source.splitlines():
        if line.startswith(_MARKER):
            name = line[len(_MARKER) :].strip()
            if not name or name in statements:
                raise ValueError(f"statement name {name!r} is empty or repeated")
            current = statements[name] = []
        elif current is not None and not line.lstrip().startswith("--"):
            current.append(line)
    return {name: "\n".join(lines).strip().removesuffix(";").rstrip() for name, lines in statements.items()}


@functools.cache
def statements(dialect: str, job: str) -> dict[str, str]:
    """The named statements of `<dialect>/<job>.sql`."""
    if dialect not in DIALECTS:
        raise ValueError(f"no SQL for dialect {dialect!r}")
    return parse((SQL_DIR / dialect / f"{job}.sql").read_text(encoding="utf-8"))


def statement(dialect: str, job: str, name: str) -> str:
    """One named statement of `<dialect>/<job>.sql`."""
    return statements(dialect, job)[name]


def jobs(dialect: str) -> list[str]:
    """The jobs that have a file for `dialect`, by name."""
    return sorted(path.stem for path in (SQL_DIR / dialect).glob("*.sql"))
