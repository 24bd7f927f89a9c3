"""The snapshot's fast read (`read_snapshot_inputs`) equals the plain aggregates, on every stack.

Random rows go in both ways the contract allows (events through `store_events`, plain SQL into
the tables), then status updates, deletes and emptied tables, with times on and around every
period boundary (quarter hours, local midnight, week and month starts, the 5-minute window,
moments ahead of `now`). After each step both reads must give the same `MetricInputs`, at
several `now`s and in several zones, and again through a fresh engine (a restart).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.events import validate_events
from server.metrics import MetricInputs, pace_windows, period_starts
from server.settings import Settings
from server.storage.db import create_engine
from server.storage.ingest import store_events
from server.storage.maintenance import maintain_derived, rebuild_active_days
from server.storage.pace_users import PaceUsers
from server.storage.queries import read_metric_inputs
from server.storage.snapshot_inputs import read_snapshot_inputs

ZONES = [ZoneInfo("UTC"), ZoneInfo("Pacific/Auckland"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kathmandu")]
# Mon 2026-11-30 00:10 UTC: a new month and ISO week in UTC a few minutes old, mid-day in Auckland.
BASE = datetime(2026, 11, 30, 0, 10, tzinfo=UTC)
USERS = [f"u-{i}" for i in range(12)]


def _nows(rng: random.Random) -> list[datetime]:
    """`now`s on and near boundaries: quarter hours, midnights, the base, a random moment."""
    picks = [
        BASE,
        BASE.replace(minute=15),
        BASE.replace(minute=0) - timedelta(microseconds=1),
        BASE + timedelta(hours=11),  # Auckland's midnight (+13)
        BASE + timedelta(hours=5, minutes=15),  # New York's midnight (-5)
        BASE + timedelta(hours=20),  # late in the UTC day
        BASE + timedelta(minutes=rng.randrange(-3000, 3000), seconds=rng.randrange(60)),
    ]
    return picks


def _moment(rng: random.Random, now: datetime) -> datetime:
    """A time that lands near something that matters for some `now`."""
    anchors = [
        now,
        now - timedelta(seconds=300),
        now.replace(minute=0, second=0, microsecond=0),
        now.replace(hour=0, minute=0, second=0, microsecond=0),
        now - timedelta(days=1),  # yesterday's pace cut-off (in UTC; near it elsewhere)
        (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0),
        now - timedelta(days=3),
        now - timedelta(days=7),  # last week's
        now - timedelta(days=7, hours=11),
        now - timedelta(days=40),
        now + timedelta(hours=11),
        now + timedelta(hours=5),
    ]
    anchor = rng.choice(anchors)
    jitter = rng.choice([0, 0, 1, -1, 7, -7, 899, -899, 3600, -3600, 86_399])
    return anchor + timedelta(seconds=jitter, microseconds=rng.choice([0, 0, 1, 500_000]))


def _db_time(engine: AsyncEngine, moment: datetime) -> Any:
    if engine.dialect.name == "sqlite":
        return str(moment.astimezone(UTC).replace(tzinfo=None))
    return moment


async def _sql(engine: AsyncEngine, statement: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(statement), params)


class _Writer:
    """Random writes; remembers the transactions it made so that it can move and delete them."""

    def __init__(self, engine: AsyncEngine, rng: random.Random) -> None:
        self.engine = engine
        self.rng = rng
        self.pending: list[str] = []
        self.all: list[str] = []
        self.serial = 0

    def _id(self) -> str:
        self.serial += 1
        return f"t-{self.serial}"

    async def step(self, now: datetime) -> None:
        rng, engine = self.rng, self.engine
        choice = rng.random()
        if choice < 0.25:
            events = []
            for _ in range(rng.randrange(1, 6)):
                at = _moment(rng, now)
                if at > now + timedelta(minutes=4):
                    at = now + timedelta(minutes=4)
                kind = rng.choice(["user_activity", "content_view", "transaction"])
                event: dict[str, Any] = {"type": kind, "at": at.isoformat(), "userId": rng.choice(USERS)}
                if kind == "content_view":
                    event["contentId"] = "c-1"
                    if rng.random() < 0.3:
                        del event["userId"]
                if kind == "transaction":
                    tx_id = self._id()
                    status = rng.choice(["pending", "pending", "completed", "failed"])
                    event.update(id=tx_id, amount=f"{rng.randrange(1, 100000) / 100:.2f}", status=status)
                    self.all.append(tx_id)
                    if status == "pending":
                        self.pending.append(tx_id)
                events.append(event)
            validated = validate_events(
                {"events": events}, now=now, currency="USD", max_events=1000, future_tolerance=timedelta(minutes=5)
            )
            await store_events(engine, validated, received_at=now, currency="USD")
        elif choice < 0.45:
            await _sql(
                engine,
                "INSERT INTO user_activity (user_id, at) VALUES (:u, :at)",
                u=rng.choice(USERS),
                at=_db_time(engine, _moment(rng, now)),
            )
        elif choice < 0.6:
            user = rng.choice([*USERS, None])
            await _sql(
                engine,
                "INSERT INTO content_views (content_id, user_id, viewed_at) VALUES ('c-2', :u, :at)",
                u=user,
                at=_db_time(engine, _moment(rng, now)),
            )
        elif choice < 0.75:
            tx_id = self._id()
            status = rng.choice(["pending", "completed", "failed"])
            created = _moment(rng, now)
            completed = created + timedelta(seconds=rng.randrange(0, 600)) if status == "completed" else None
            if status == "completed" and rng.random() < 0.3:
                completed = None  # created_at stands in
            amount = f"{rng.randrange(1, 10**6) / 100:.2f}"
            await _sql(
                engine,
                "INSERT INTO transactions (id, user_id, content_id, amount, currency, status, created_at, completed_at)"
                " VALUES (:id, :u, 'c-3', :amount, 'USD', :status, :created, :completed)",
                id=tx_id,
                u=rng.choice(USERS),
                amount=amount if engine.dialect.name == "sqlite" else Decimal(amount),
                status=status,
                created=_db_time(engine, created),
                completed=None if completed is None else _db_time(engine, completed),
            )
            self.all.append(tx_id)
            if status == "pending":
                self.pending.append(tx_id)
        elif choice < 0.87 and self.pending:
            tx_id = self.pending.pop(rng.randrange(len(self.pending)))
            status = rng.choice(["completed", "failed"])
            if rng.random() < 0.5:  # the platform's plain UPDATE: the trigger stamps the change
                await _sql(engine, "UPDATE transactions SET status = :s WHERE id = :id", s=status, id=tx_id)
            else:
                when = _db_time(engine, _moment(rng, now))
                await _sql(
                    engine,
                    "UPDATE transactions SET status = :s, completed_at = :c, status_changed_at = :w WHERE id = :id",
                    s=status,
                    c=when if status == "completed" else None,
                    w=when,
                    id=tx_id,
                )
        elif choice < 0.95:
            table = rng.choice(["transactions", "content_views", "user_activity"])
            key = "id" if table == "transactions" else "rowid" if engine.dialect.name == "sqlite" else "id"
            await _sql(
                engine, f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} ORDER BY random() LIMIT 2)"
            )
        else:
            await _sql(
                engine,
                "UPDATE transactions SET amount = amount + 1 WHERE id IN "
                "(SELECT id FROM transactions ORDER BY random() LIMIT 1)",
            )


async def _assert_equal(engine: AsyncEngine, now: datetime, zone: ZoneInfo) -> MetricInputs:
    """The fast read equals the plain one as the writes left the derived tables (deltas not
    folded), and again after the maintenance the snapshot loop runs next (folded, pruned)."""
    periods = period_starts(now, zone)
    async with engine.connect() as conn:
        plain = await read_metric_inputs(conn, periods, now, zone)
    async with engine.begin() as conn:
        unmaintained = await read_snapshot_inputs(conn, periods, now, zone)
    assert unmaintained == plain, f"before maintenance: now={now.isoformat()} zone={zone.key}"
    await maintain_derived(engine, now, zone)
    async with engine.begin() as conn:
        maintained = await read_snapshot_inputs(conn, periods, now, zone)
    assert maintained == plain, f"after maintenance: now={now.isoformat()} zone={zone.key}"
    # Pace's active users from first-moment lists read at this state: a binary search, no query.
    lists = PaceUsers()
    await lists.refresh(engine, now, zone, most_days=4)
    assert all(lists.count(window, zone, now) is not None for window in pace_windows(now, zone))
    async with engine.begin() as conn:
        from_lists = await read_snapshot_inputs(conn, periods, now, zone, lists)
    assert from_lists == plain, f"with pace's lists: now={now.isoformat()} zone={zone.key}"
    return maintained


async def _cover(engine: AsyncEngine, zone: ZoneInfo) -> None:
    """Let the PostgreSQL day tables cover the test's days (their `now`s are fixed, not today's)."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await rebuild_active_days(conn, zone.key, (BASE - timedelta(days=5)).date())


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_fast_read_equals_plain_aggregates_under_random_writes(
    engine: AsyncEngine, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.storage import snapshot_inputs

    counted_from_day_tables = []
    original = snapshot_inputs._counted_from_day_tables

    def spy(value: Any) -> int | None:
        answer = original(value)
        counted_from_day_tables.append(answer is not None)
        return answer

    monkeypatch.setattr(snapshot_inputs, "_counted_from_day_tables", spy)
    rng = random.Random(seed)
    writer = _Writer(engine, rng)
    zone = ZONES[seed % len(ZONES)]
    await _cover(engine, zone)
    nows = _nows(rng)
    seen_today = seen_pace_users = seen_pace_cents = 0
    for round_ in range(8):
        for _ in range(25):
            await writer.step(rng.choice(nows))
        for now in nows:
            inputs = await _assert_equal(engine, now, zone)
            seen_today = max(seen_today, inputs.active_today)
            seen_pace_users = max(seen_pace_users, inputs.pace_active_yesterday, inputs.pace_active_last_week)
            seen_pace_cents = max(seen_pace_cents, inputs.pace_revenue_yesterday_cents)
        if round_ == 4:  # the other zones read the same rows (a zone change rebuilds the day tables)
            for other in ZONES:
                await _cover(engine, other)
                for now in nows[:3]:
                    await _assert_equal(engine, now, other)
            await _cover(engine, zone)
    assert seen_today > 0  # the scenario did exercise "today"
    assert seen_pace_users > 0 and seen_pace_cents > 0  # and the pace of earlier days
    if engine.dialect.name == "postgresql":  # and PostgreSQL's day tables, not only the plain count
        assert sum(counted_from_day_tables) >= len(counted_from_day_tables) // 3


async def test_many_statements_fold_into_one_row_and_stay_exact(engine: AsyncEngine) -> None:
    """More delta rows than the fold threshold: the read is exact, the maintenance after it folds
    them into one, and the read is still exact."""
    await _cover(engine, ZONES[0])
    for i in range(80):
        await _sql(
            engine,
            "INSERT INTO content_views (content_id, user_id, viewed_at) VALUES ('c', :u, :at)",
            u=f"u-{i}",
            at=_db_time(engine, BASE - timedelta(seconds=5 * i)),
        )
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            unfolded = (await conn.execute(text("SELECT count(*) FROM snapshot_totals"))).scalar_one()
        assert unfolded > 64
    await _assert_equal(engine, BASE, ZONES[0])
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT count(*) FROM snapshot_totals"))).scalar_one()
        if engine.dialect.name == "postgresql":
            day_rows = (await conn.execute(text("SELECT count(*) FROM active_day_counts"))).scalar_one()
            assert day_rows == 1
    assert rows == 1
    await _assert_equal(engine, BASE, ZONES[0])


async def test_emptied_tables_count_nothing_and_a_restart_reads_the_same(
    engine: AsyncEngine, settings: Settings
) -> None:
    rng = random.Random(7)
    writer = _Writer(engine, rng)
    await _cover(engine, ZONES[1])
    for _ in range(60):
        await writer.step(BASE)
    before = await _assert_equal(engine, BASE, ZONES[1])
    fresh = create_engine(settings.database_url)  # a restart: nothing but the database
    try:
        assert await _assert_equal(fresh, BASE, ZONES[1]) == before
    finally:
        await fresh.dispose()
    for table in ("user_activity", "transactions", "content_views"):
        if engine.dialect.name == "postgresql":
            await _sql(engine, f"TRUNCATE {table}")
        else:
            await _sql(engine, f"DELETE FROM {table}")
        await _assert_equal(engine, BASE, ZONES[1])
    after = await _assert_equal(engine, BASE, ZONES[1])
    assert (after.pending, after.completed, after.failed, after.total_views, after.revenue_total_cents) == (0,) * 5
    assert after.active_today == 0
    for _ in range(30):
        await writer.step(BASE)
    await _assert_equal(engine, BASE, ZONES[1])


async def test_a_clock_before_the_days_kept_counts_plainly(engine: AsyncEngine) -> None:
    await _cover(engine, ZONES[0])
    await _sql(
        engine,
        "INSERT INTO user_activity (user_id, at) VALUES ('u', :at)",
        at=_db_time(engine, BASE - timedelta(days=30)),
    )
    await _assert_equal(engine, BASE - timedelta(days=30) + timedelta(hours=1), ZONES[0])
