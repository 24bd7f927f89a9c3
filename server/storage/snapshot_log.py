"""`snapshot_log`: every snapshot of the last 24 h, the one sequence of snapshot ids.

The id of a new snapshot is allocated here, inside the transaction that writes it: the newest id
in the log plus one, by the holder of the snapshot lease only (`lease.fence`). Every instance
reads the same sequence from here: at start, and whenever the relay through Redis is late.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.metrics import PEAK_WINDOW
from server.storage import lease
from server.storage.db import write_connection
from server.storage.models import Deployment, SnapshotLog

# A builder gets the id the database allocated and returns (the snapshot's JSON, its `current`).
Builder = Callable[[int], tuple[str, int]]
_ATTEMPTS = 3  # an id found taken (a writer that does not hold the lease) is retried with the next


async def append(
    engine: AsyncEngine, *, holder: str, epoch: int, ttl: float, computed_at: datetime, build: Builder
) -> int:
    """Write the next snapshot as the lease holder; returns its id.

    Raises `lease.LeaseLost` when `holder` no longer holds the lease at `epoch` (nothing is
    written). An id that turns out to be taken is never retried as it was: the next attempt
    allocates after the newest id in the log.
    """
    for attempt in range(_ATTEMPTS):
        conn = await write_connection(engine)
        try:
            async with conn.begin():
                await lease.fence(conn, holder, epoch, ttl)
                newest = (await conn.execute(select(func.coalesce(func.max(SnapshotLog.snapshot_id), 0)))).scalar_one()
                snapshot_id = int(newest) + 1
                payload, active = build(snapshot_id)
                await conn.execute(
                    insert(SnapshotLog).values(
                        snapshot_id=snapshot_id, computed_at=computed_at, active_current=active, payload=payload
                    )
                )
                await conn.execute(delete(SnapshotLog).where(SnapshotLog.computed_at <= computed_at - PEAK_WINDOW))
            return snapshot_id
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
        finally:
            await conn.close()
    raise AssertionError("unreachable")


async def after(engine: AsyncEngine, snapshot_id: int, limit: int) -> list[str]:
    """The JSON of up to `limit` newest snapshots after `snapshot_id`, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(SnapshotLog.payload)
            .where(SnapshotLog.snapshot_id > snapshot_id)
            .order_by(SnapshotLog.snapshot_id.desc())
            .limit(limit)
        )
        return list(reversed(rows.scalars().all()))


async def oldest_after(engine: AsyncEngine, snapshot_id: int, limit: int) -> list[str]:
    """The JSON of up to `limit` oldest snapshots after `snapshot_id`, oldest first (for resumes)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(SnapshotLog.payload)
            .where(SnapshotLog.snapshot_id > snapshot_id)
            .order_by(SnapshotLog.snapshot_id)
            .limit(limit)
        )
        return list(rows.scalars().all())


async def deployment_id(engine: AsyncEngine) -> str:
    """This database's deployment id (made with the schema by the baseline migration)."""
    async with engine.connect() as conn:
        found = (
            await conn.execute(select(Deployment.id).order_by(Deployment.created_at, Deployment.id).limit(1))
        ).scalar_one_or_none()
    if found is None:
        raise RuntimeError("the deployment table is empty: run the migrations (python -m server does)")
    return str(found)
