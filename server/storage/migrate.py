"""Bring the schema to Alembic's head; called by the sidecar before it serves."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.errors import ConfigurationError
from server.storage import locks

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Revisions squashed into the baseline (December 2026); no production database ran them.
_SQUASHED = frozenset(f"000{n}" for n in range(1, 9))


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _check_not_squashed(connection: Connection) -> None:
    if not inspect(connection).has_table("alembic_version"):
        return
    stored = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    if stored & _SQUASHED:
        raise ConfigurationError(
            f"this database has the schema of migration {min(stored)}, from before the migrations were"
            " squashed into one baseline: make a new database (or drop this one's tables) and start again"
        )


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Instances starting together migrate one at a time.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": locks.MIGRATE})
    _check_not_squashed(connection)
    command.upgrade(alembic_config(connection), "head")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
