"""Reading a migration's frozen SQL file: the statements a migration runs, as they were written.

A frozen file is the copy of `server/storage/sql/<dialect>/<job>.sql` a migration installed: a
comment, then statements each under a line `-- name: <name>`. Full-line comments are left out of
the statements, and the final `;`. Migrations read their files with this and nothing else from
the live code, so changing a live SQL file never changes what an old migration runs.
"""

from __future__ import annotations

from pathlib import Path


def frozen_statements(path: Path) -> list[tuple[str, str]]:
    """(name, statement) of the file, in file order."""
    named: list[tuple[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("-- name:"):
            named.append((line.removeprefix("-- name:").strip(), []))
        elif named and not line.lstrip().startswith("--"):
            named[-1][1].append(line)
    return [(name, "\n".join(lines).strip().removesuffix(";").rstrip()) for name, lines in named]
