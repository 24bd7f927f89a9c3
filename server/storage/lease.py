"""The `sidecar_lease` row: which instance computes the snapshots, decided in the database.

An instance takes the lease when nobody holds it or the holder let it expire, and renews it
while it holds it. Expiry is judged by one clock: PostgreSQL's own (`clock_timestamp()`), or on
SQLite, whose instances share one machine, that machine's. Each new holder gets the next
`epoch`; `fence` checks it inside the snapshot's write, so only the current holder writes.
Every statement is a short transaction of its own, so the lease works through a transaction
pooler (PgBouncer) as well as on a direct connection.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, literal, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage.db import write_connection
from server.storage.models import SidecarLease

SNAPSHOTS = "snapshots"


class LeaseLost(Exception):
    """The lease has another holder (or epoch) now: this instance must not write as its holder."""


def _now(conn: AsyncConnection) -> Any:
    if conn.dialect.name == "postgresql":
        return func.clock_timestamp()
    return literal(datetime.now(UTC), SidecarLease.expires_at.type)


def _until(conn: AsyncConnection, ttl: float) -> Any:
    if conn.dialect.name == "postgresql":
        return func.clock_timestamp() + literal(timedelta(seconds=ttl))
    return literal(datetime.now(UTC) + timedelta(seconds=ttl), SidecarLease.expires_at.type)


async def acquire(engine: AsyncEngine, holder: str, ttl: float, name: str = SNAPSHOTS) -> int | None:
    """Take or renew the lease for `ttl` seconds; its epoch, or None while another holds it."""
    conn = await write_connection(engine)
    try:
        async with conn.begin():
            await _bounded_lock_wait(conn)
            lease = SidecarLease.__table__
            statement = (
                update(lease)
                .where(
                    lease.c.name == name,
                    or_(lease.c.holder == holder, lease.c.holder.is_(None), lease.c.expires_at < _now(conn)),
                )
                .values(
                    holder=holder,
                    epoch=case((lease.c.holder == holder, lease.c.epoch), else_=lease.c.epoch + 1),
                    expires_at=_until(conn, ttl),
                )
                .returning(lease.c.epoch)
            )
            epoch = (await conn.execute(statement)).scalar_one_or_none()
            missing = (await conn.execute(select(lease.c.epoch).where(lease.c.name == name))).first() is None
            if epoch is None and missing:
                # The row went missing (a hand-made schema, a careless cleanup): start it again.
                row = {"name": name, "holder": holder, "epoch": 1, "expires_at": _until(conn, ttl)}
                await conn.execute(insert(lease).values(**row))
                epoch = 1
    finally:
        await conn.close()
    return None if epoch is None else int(epoch)


async def release(engine: AsyncEngine, holder: str, name: str = SNAPSHOTS) -> None:
    """Give the lease up if `holder` has it, so that another instance may take it at once."""
    conn = await write_connection(engine)
    try:
        async with conn.begin():
            await _bounded_lock_wait(conn)
            lease = SidecarLease.__table__
            await conn.execute(
                update(lease).where(lease.c.name == name, lease.c.holder == holder).values(holder=None, expires_at=None)
            )
    finally:
        await conn.close()


async def _bounded_lock_wait(conn: AsyncConnection) -> None:
    """On PostgreSQL, wait at most 2 s for the lease row's lock in this transaction: a connection
    that holds it longer (a stuck writer, a hand-run `SELECT ... FOR UPDATE`) makes the renewal or
    the release fail, which is said and retried, instead of holding the loop or a shutdown forever."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET LOCAL lock_timeout = '2s'"))


async def fence(conn: AsyncConnection, holder: str, epoch: int, ttl: float, name: str = SNAPSHOTS) -> None:
    """Inside a write transaction: renew the lease if `holder` still has it at `epoch`, else raise
    LeaseLost. On PostgreSQL the row stays locked until that transaction ends, so no instance
    takes the lease over half-way through a snapshot's write."""
    lease = SidecarLease.__table__
    renewed = await conn.execute(
        update(lease)
        .where(lease.c.name == name, lease.c.holder == holder, lease.c.epoch == epoch)
        .values(expires_at=_until(conn, ttl))
        .returning(lease.c.epoch)
    )
    if renewed.scalar_one_or_none() is None:
        raise LeaseLost(f"the {name} lease has another holder now")


async def holder_of(engine: AsyncEngine, name: str = SNAPSHOTS) -> tuple[str | None, int]:
    """(holder, epoch) as stored; for tests and diagnostics."""
    async with engine.connect() as conn:
        lease = SidecarLease.__table__
        row = (await conn.execute(select(lease.c.holder, lease.c.epoch).where(lease.c.name == name))).one()
        return row[0], int(row[1])
