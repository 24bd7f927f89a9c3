"""The snapshot lease and the snapshot log on every stack: one holder at a time, a new epoch for
each new holder, writes fenced by it, and ids allocated by the database after the newest one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage import lease, snapshot_log
from server.storage.lease import LeaseLost

NOW = datetime(2026, 12, 4, 10, tzinfo=UTC)


def _builder(seen: list[int]) -> snapshot_log.Builder:
    def build(snapshot_id: int) -> tuple[str, int]:
        seen.append(snapshot_id)
        return f'{{"snapshotId":{snapshot_id}}}', 0

    return build


async def test_one_holder_at_a_time_until_the_lease_expires(engine: AsyncEngine) -> None:
    first = await lease.acquire(engine, "a", ttl=0.5)
    assert first is not None
    assert await lease.acquire(engine, "a", ttl=0.5) == first  # renewal keeps the epoch
    assert await lease.acquire(engine, "b", ttl=0.5) is None  # held by a
    await asyncio.sleep(0.6)
    taken = await lease.acquire(engine, "b", ttl=0.5)
    assert taken == first + 1  # a new holder, a new epoch
    assert await lease.holder_of(engine) == ("b", taken)
    assert await lease.acquire(engine, "a", ttl=0.5) is None


async def test_a_released_lease_is_taken_at_once(engine: AsyncEngine) -> None:
    assert await lease.acquire(engine, "a", ttl=60) is not None
    await lease.release(engine, "b")  # not b's to give up: nothing changes
    assert await lease.acquire(engine, "b", ttl=60) is None
    await lease.release(engine, "a")
    assert await lease.acquire(engine, "b", ttl=60) is not None


async def test_a_missing_lease_row_is_made_again(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM sidecar_lease"))
    assert await lease.acquire(engine, "a", ttl=60) == 1
    assert await lease.acquire(engine, "b", ttl=60) is None


async def test_ids_come_from_the_log_and_only_the_holder_writes(engine: AsyncEngine) -> None:
    epoch = await lease.acquire(engine, "a", ttl=60)
    assert epoch is not None
    seen: list[int] = []
    ids = [
        await snapshot_log.append(engine, holder="a", epoch=epoch, ttl=60, computed_at=NOW, build=_builder(seen))
        for _ in range(3)
    ]
    assert ids == seen == [1, 2, 3]
    assert await snapshot_log.after(engine, 1, limit=20) == ['{"snapshotId":2}', '{"snapshotId":3}']
    assert await snapshot_log.after(engine, 0, limit=2) == ['{"snapshotId":2}', '{"snapshotId":3}']  # the newest

    # Another instance takes over (a was paused past its lease): a can no longer write.
    await lease.release(engine, "a")
    taken = await lease.acquire(engine, "b", ttl=60)
    assert taken == epoch + 1
    with pytest.raises(LeaseLost):
        await snapshot_log.append(engine, holder="a", epoch=epoch, ttl=60, computed_at=NOW, build=_builder(seen))
    assert await snapshot_log.append(engine, holder="b", epoch=taken, ttl=60, computed_at=NOW, build=_builder([])) == 4


async def test_the_next_id_follows_the_newest_in_the_log_whoever_wrote_it(engine: AsyncEngine) -> None:
    """A row the holder did not write (an instance of an older version during a rolling deploy, a
    restore) moves the sequence on: the holder allocates after it instead of colliding with it."""
    epoch = await lease.acquire(engine, "a", ttl=60)
    assert epoch is not None
    at = NOW if engine.dialect.name == "postgresql" else NOW.strftime("%Y-%m-%d %H:%M:%S")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO snapshot_log (snapshot_id, computed_at, active_current, payload) VALUES (7, :at, 0, 'x')"
            ),
            {"at": at},
        )
    seen: list[int] = []
    assert (
        await snapshot_log.append(engine, holder="a", epoch=epoch, ttl=60, computed_at=NOW, build=_builder(seen)) == 8
    )
    assert seen == [8]
