"""Fixtures that run each test over every stack: SQLite + in-process always, PostgreSQL + Redis
where they answer. On CI (`CI` set) an unreachable PostgreSQL or Redis fails the test instead of
skipping it.

Each test session works in a database of its own, created next to TEST_DATABASE_URL's and dropped
at the end, so that two suites running at once never truncate each other's tables.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from server.storage.db import create_database, create_engine, drop_database
from server.storage.migrate import upgrade_to_head
from tests.support.helpers import LocalClient

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STACKS = ["sqlite-memory", "postgres-redis"]
_TABLES = "transactions, content_views, user_activity, content, snapshot_log, alert_events"


async def _services_answer() -> str | None:
    """None when PostgreSQL and Redis both answer, else why not."""
    import redis.asyncio as aioredis

    engine = create_engine(POSTGRES_URL)
    try:
        async with asyncio.timeout(5), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} does not answer ({type(exc).__name__})"
    finally:
        await engine.dispose()
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL} does not answer ({type(exc).__name__})"
    finally:
        await client.aclose()
    return None


@pytest.fixture(scope="session")
def services_problem() -> str | None:
    return asyncio.run(_services_answer())


@pytest.fixture(scope="session")
def postgres_url(services_problem: str | None) -> Iterator[str]:
    """A database of this session's own on TEST_DATABASE_URL's server."""
    if services_problem is not None:
        yield POSTGRES_URL  # unused: the stack fixture fails or skips first
        return
    name = f"metrics_test_{uuid.uuid4().hex[:10]}"
    yield asyncio.run(create_database(POSTGRES_URL, name))
    asyncio.run(drop_database(POSTGRES_URL, name))


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY"))
            # A sidecar of an earlier test that did not stop cleanly may still hold the lease.
            await conn.execute(text("UPDATE sidecar_lease SET holder = NULL, expires_at = NULL"))
    finally:
        await engine.dispose()


def _require(stack: str, services_problem: str | None) -> str:
    if stack == "postgres-redis" and services_problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL + Redis tests: {services_problem}")
        pytest.skip(services_problem)
    return stack


def _settings_for(stack: str, directory: Path, request: pytest.FixtureRequest) -> Settings:
    base = Settings(interval=0.2, embedded=False, redis_prefix=f"test-{uuid.uuid4().hex[:12]}:")
    if stack == "postgres-redis":
        url = request.getfixturevalue("postgres_url")
        asyncio.run(_reset_postgres(url))
        return replace(base, database_url=url, redis_url=REDIS_URL)
    return replace(base, database_url=f"sqlite:///{directory / 'metrics.db'}")


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest, services_problem: str | None) -> str:
    return _require(request.param, services_problem)


@pytest.fixture
def settings(stack: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for one test on one stack, with a fresh database and its own Redis namespace."""
    return _settings_for(stack, tmp_path, request)


@pytest.fixture(scope="module", params=STACKS)
def module_settings(
    request: pytest.FixtureRequest, services_problem: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The same, shared by the tests of one module that start the app once per stack."""
    stack = _require(request.param, services_problem)
    return _settings_for(stack, tmp_path_factory.mktemp(stack), request)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with LocalClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on the test's database, for tests below the HTTP layer."""
    db = create_engine(settings.database_url)
    await upgrade_to_head(db)
    yield db
    await db.dispose()
