"""The contract's metric definitions through the real database, on every stack.

Rows are written the two ways the contract allows, and must count the same: events stored by
`store_events` (with an explicit `at`, received a little later), and plain SQL straight into the
documented tables, as the platform writes them (UTC text on SQLite, timestamptz on PostgreSQL).
Numbers are then read back by `read_metric_inputs` and shaped by `compute_snapshot`.
Most scenarios are in Pacific/Auckland, whose local midnight is 11:00 or 12:00 UTC the day before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.events import validate_events
from server.metrics import compute_snapshot, period_starts
from server.storage.ingest import IngestResult, store_events
from server.storage.queries import read_metric_inputs

AUCKLAND = ZoneInfo("Pacific/Auckland")
CURRENCY = "USD"
MICROSECOND = timedelta(microseconds=1)
RECEIPT_DELAY = timedelta(seconds=2)  # events reach the API after they happen; `at` is what counts

# Fri 2026-11-27 12:00:00 NZDT (+13). Its day began 2026-11-26 11:00 UTC, its ISO week
# Mon 2026-11-23 00:00 NZDT (2026-11-22 11:00 UTC), its month 2026-11-01 00:00 NZDT (2026-10-31 11:00 UTC).
NOW = datetime(2026, 11, 26, 23, tzinfo=UTC)
DAY_START = datetime(2026, 11, 26, 11, tzinfo=UTC)
WEEK_START = datetime(2026, 11, 22, 11, tzinfo=UTC)
MONTH_START = datetime(2026, 10, 31, 11, tzinfo=UTC)


def local(*fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=AUCKLAND, fold=fold)


def money(snapshot: dict[str, Any]) -> dict[str, str]:
    """Revenue as text, so that `5.00` and `5` differ and cents are exact."""
    return {name: str(value) for name, value in snapshot["revenue"].items()}


def revenue(total: str, today: str, week: str, month: str) -> dict[str, str]:
    return {"total": total, "today": today, "thisWeek": week, "thisMonth": month}


async def snapshot_at(engine: AsyncEngine, now: datetime, zone: ZoneInfo = AUCKLAND) -> dict[str, Any]:
    async with engine.connect() as conn:
        inputs = await read_metric_inputs(conn, period_starts(now, zone), now, zone)
    return compute_snapshot(inputs, now, 1)


# --- writing rows -------------------------------------------------------------------------------------


def db_time(engine: AsyncEngine, moment: datetime) -> Any:
    """A timestamp as the platform binds it: UTC text on SQLite, an aware datetime on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        return str(moment.astimezone(UTC).replace(tzinfo=None))  # 'YYYY-MM-DD HH:MM:SS[.ffffff]'
    return moment


def db_amount(engine: AsyncEngine, amount: str) -> Any:
    return amount if engine.dialect.name == "sqlite" else Decimal(amount)


async def execute(engine: AsyncEngine, statement: str, **params: Any) -> int:
    async with engine.begin() as conn:
        return (await conn.execute(text(statement), params)).rowcount


async def insert_transaction(
    engine: AsyncEngine,
    tx_id: str,
    user_id: str,
    amount: str,
    status: str,
    created_at: datetime,
    completed_at: datetime | None,
) -> None:
    await execute(
        engine,
        "INSERT INTO transactions (id, user_id, content_id, amount, currency, status, created_at, completed_at)"
        " VALUES (:id, :user_id, :content_id, :amount, :currency, :status, :created_at, :completed_at)",
        id=tx_id,
        user_id=user_id,
        content_id="c-1",
        amount=db_amount(engine, amount),
        currency=CURRENCY,
        status=status,
        created_at=db_time(engine, created_at),
        completed_at=None if completed_at is None else db_time(engine, completed_at),
    )


async def ingest(engine: AsyncEngine, raw_events: list[dict[str, Any]], received_at: datetime) -> IngestResult:
    events = validate_events(
        {"events": raw_events},
        now=received_at,
        currency=CURRENCY,
        max_events=1000,
        future_tolerance=timedelta(minutes=5),
    )
    return await store_events(engine, events, received_at=received_at, currency=CURRENCY)


class ApiWriter:
    """Rows through `store_events`, one event at a time, each with its own `at`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _store(self, event: dict[str, Any], at: datetime) -> None:
        at = at.astimezone(UTC)  # local wall-clock arithmetic would lose the fold of a repeated hour
        result = await ingest(self.engine, [{**event, "at": at.isoformat()}], received_at=at + RECEIPT_DELAY)
        assert result == IngestResult(accepted=1, duplicates=0)

    async def activity(self, user_id: str, at: datetime) -> None:
        await self._store({"type": "user_activity", "userId": user_id}, at)

    async def view(self, content_id: str, user_id: str | None, at: datetime) -> None:
        event = {"type": "content_view", "contentId": content_id}
        await self._store(event if user_id is None else {**event, "userId": user_id}, at)

    async def transaction(self, tx_id: str, user_id: str, amount: str, status: str, at: datetime) -> None:
        event = {"type": "transaction", "id": tx_id, "userId": user_id, "contentId": "c-1", "amount": amount}
        await self._store({**event, "currency": CURRENCY, "status": status}, at)

    async def move(self, tx_id: str, status: str, at: datetime) -> None:
        await self._store({"type": "transaction", "id": tx_id, "status": status}, at)


class SqlWriter:
    """Rows as the platform writes them: plain INSERTs and UPDATEs into the documented tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def activity(self, user_id: str, at: datetime) -> None:
        statement = "INSERT INTO user_activity (user_id, at) VALUES (:user_id, :at)"
        await execute(self.engine, statement, user_id=user_id, at=db_time(self.engine, at))

    async def view(self, content_id: str, user_id: str | None, at: datetime) -> None:
        await execute(
            self.engine,
            "INSERT INTO content_views (content_id, user_id, viewed_at) VALUES (:content_id, :user_id, :viewed_at)",
            content_id=content_id,
            user_id=user_id,
            viewed_at=db_time(self.engine, at),
        )

    async def transaction(self, tx_id: str, user_id: str, amount: str, status: str, at: datetime) -> None:
        await insert_transaction(self.engine, tx_id, user_id, amount, status, at, at if status == "completed" else None)

    async def move(self, tx_id: str, status: str, at: datetime) -> None:
        # A move to `failed` leaves completed_at NULL; the trigger then stamps the database's clock.
        completed_at = db_time(self.engine, at) if status == "completed" else None
        updated = await execute(
            self.engine,
            "UPDATE transactions SET status = :status, completed_at = :completed_at WHERE id = :id",
            status=status,
            completed_at=completed_at,
            id=tx_id,
        )
        assert updated == 1


Writer = ApiWriter | SqlWriter


@pytest.fixture(params=["api", "sql"])
def writer(request: pytest.FixtureRequest, engine: AsyncEngine) -> Writer:
    return ApiWriter(engine) if request.param == "api" else SqlWriter(engine)


# --- revenue ------------------------------------------------------------------------------------------


async def test_revenue_periods_begin_at_local_midnight_monday_and_the_first(
    engine: AsyncEngine, writer: Writer
) -> None:
    await writer.transaction("t-day", "u-1", "1.00", "completed", DAY_START)
    await writer.transaction("t-before-day", "u-1", "2.00", "completed", DAY_START - MICROSECOND)
    await writer.transaction("t-week", "u-1", "4.00", "completed", WEEK_START)
    await writer.transaction("t-before-week", "u-1", "8.00", "completed", WEEK_START - MICROSECOND)
    await writer.transaction("t-month", "u-1", "16.00", "completed", MONTH_START)
    await writer.transaction("t-before-month", "u-1", "32.00", "completed", MONTH_START - MICROSECOND)
    assert money(await snapshot_at(engine, NOW)) == revenue(total="63.00", today="1.00", week="7.00", month="31.00")


async def test_revenue_of_a_month_that_begins_mid_week(engine: AsyncEngine, writer: Writer) -> None:
    # Wed 2026-12-02 12:00 NZDT; the week began Mon 2026-11-30, the month Tue 2026-12-01.
    now = local(2026, 12, 2, 12)
    await writer.transaction("t-last-of-november", "u-1", "1.00", "completed", local(2026, 12, 1) - MICROSECOND)
    await writer.transaction("t-first-of-december", "u-1", "2.00", "completed", local(2026, 12, 1))
    await writer.transaction("t-last-week", "u-1", "4.00", "completed", local(2026, 11, 30) - MICROSECOND)
    assert money(await snapshot_at(engine, now)) == revenue(total="7.00", today="0.00", week="3.00", month="2.00")


async def test_revenue_today_on_the_25_hour_day_when_auckland_dst_ends(engine: AsyncEngine, writer: Writer) -> None:
    # Sun 2026-04-05: 03:00 NZDT becomes 02:00 NZST; now is its last second, 23:59:59 NZST.
    now = local(2026, 4, 5, 23, 59, 59)
    assert now == datetime(2026, 4, 5, 11, 59, 59, tzinfo=UTC)
    await writer.transaction("t-0030", "u-1", "1.00", "completed", local(2026, 4, 5, 0, 30))  # NZDT
    await writer.transaction("t-2330", "u-1", "2.00", "completed", local(2026, 4, 5, 23, 30))  # NZST
    await writer.transaction("t-0230-again", "u-1", "4.00", "completed", local(2026, 4, 5, 2, 30, fold=1))
    await writer.transaction("t-yesterday", "u-1", "8.00", "completed", local(2026, 4, 4, 23, 30))
    # The week began Mon 2026-03-30 and the month Wed 2026-04-01: both hold every row.
    assert money(await snapshot_at(engine, now)) == revenue(total="15.00", today="7.00", week="15.00", month="15.00")


async def test_revenue_today_on_the_23_hour_day_when_auckland_dst_starts(engine: AsyncEngine, writer: Writer) -> None:
    # Sun 2026-09-27: 02:00 NZST becomes 03:00 NZDT; now is its last second, 23:59:59 NZDT.
    now = local(2026, 9, 27, 23, 59, 59)
    assert now == datetime(2026, 9, 27, 10, 59, 59, tzinfo=UTC)
    await writer.transaction("t-0030", "u-1", "1.00", "completed", local(2026, 9, 27, 0, 30))  # NZST
    await writer.transaction("t-2330", "u-1", "2.00", "completed", local(2026, 9, 27, 23, 30))  # NZDT
    await writer.transaction(
        "t-0300", "u-1", "4.00", "completed", local(2026, 9, 27, 3)
    )  # first instant after the jump
    await writer.transaction("t-yesterday", "u-1", "8.00", "completed", local(2026, 9, 26, 23, 30))
    assert money(await snapshot_at(engine, now)) == revenue(total="15.00", today="7.00", week="15.00", month="15.00")


async def test_completion_stamped_after_now_in_the_next_day_week_and_month_is_not_their_revenue_yet(
    engine: AsyncEngine, writer: Writer
) -> None:
    # Sun 2026-05-31 23:58 NZST; a completion stamped 3 minutes ahead (accepted: under 5 minutes) falls
    # on Mon 2026-06-01 00:01, a new local day, ISO week and month. It is revenue of all time only.
    now = local(2026, 5, 31, 23, 58)
    await writer.transaction("t-now", "u-1", "1.00", "completed", now)
    await writer.transaction("t-next-day", "u-1", "2.00", "completed", local(2026, 6, 1, 0, 1))
    assert money(await snapshot_at(engine, now)) == revenue(total="3.00", today="1.00", week="1.00", month="1.00")


async def test_pending_and_failed_transactions_never_count_as_revenue(engine: AsyncEngine, writer: Writer) -> None:
    await writer.transaction("t-pending", "u-1", "5.00", "pending", NOW - timedelta(hours=1))
    await writer.transaction("t-failed", "u-1", "7.00", "failed", NOW - timedelta(hours=1))
    await writer.transaction("t-completed", "u-1", "11.00", "completed", NOW - timedelta(hours=1))
    snapshot = await snapshot_at(engine, NOW)
    assert money(snapshot) == revenue(total="11.00", today="11.00", week="11.00", month="11.00")
    assert snapshot["transactions"] == {"total": 3, "pending": 1, "completed": 1, "failed": 1}


async def test_completed_row_without_completed_at_counts_at_created_at(engine: AsyncEngine) -> None:
    await insert_transaction(engine, "t-today", "u-1", "1.00", "completed", DAY_START + timedelta(hours=1), None)
    await insert_transaction(engine, "t-yesterday", "u-1", "2.00", "completed", DAY_START - MICROSECOND, None)
    # When completed_at is set it wins over an older created_at.
    await insert_transaction(engine, "t-late", "u-1", "4.00", "completed", MONTH_START - timedelta(days=3), DAY_START)
    assert money(await snapshot_at(engine, NOW)) == revenue(total="7.00", today="5.00", week="7.00", month="7.00")


async def test_money_is_summed_exactly(engine: AsyncEngine, writer: Writer) -> None:
    at = NOW - timedelta(minutes=30)
    for i in range(50):
        await writer.transaction(f"t-dime-{i}", "u-1", "0.10", "completed", at)
        await writer.transaction(f"t-twenty-{i}", "u-1", "0.20", "completed", at)
    assert money(await snapshot_at(engine, NOW)) == revenue(total="15.00", today="15.00", week="15.00", month="15.00")
    for i in range(3):
        await writer.transaction(f"t-max-{i}", "u-1", "9999999999.99", "completed", at)
    total = "30000000014.97"  # 3 * 9999999999.99 + 15.00
    snapshot = await snapshot_at(engine, NOW)
    assert money(snapshot) == revenue(total=total, today=total, week=total, month=total)
    assert snapshot["revenue"]["total"] == Decimal(total)


# --- active users -------------------------------------------------------------------------------------


async def _name_user(writer: Writer, kind: str, user_id: str, at: datetime) -> None:
    """Record one event of `kind` naming `user_id` at `at`."""
    if kind == "activity":
        await writer.activity(user_id, at)
    elif kind == "view":
        await writer.view("c-1", user_id, at)
    else:
        await writer.transaction(f"t-{user_id}", user_id, "1.00", "pending", at)


@pytest.mark.parametrize("kind", ["activity", "view", "transaction"])
async def test_active_window_excludes_now_minus_300s_and_includes_now(
    engine: AsyncEngine, writer: Writer, kind: str
) -> None:
    await _name_user(writer, kind, "u-at-window-start", NOW - timedelta(seconds=300))
    await _name_user(writer, kind, "u-just-inside", NOW - timedelta(seconds=300) + MICROSECOND)
    await _name_user(writer, kind, "u-at-now", NOW)
    await _name_user(writer, kind, "u-after-now", NOW + MICROSECOND)
    snapshot = await snapshot_at(engine, NOW)
    # `today` is [local midnight, now]: the first three, not the one after now.
    assert snapshot["activeUsers"] == {"current": 2, "today": 3, "peak24h": 2}


async def test_content_view_names_a_user_only_when_it_has_a_user_id(engine: AsyncEngine, writer: Writer) -> None:
    await writer.view("c-1", None, NOW - timedelta(seconds=10))
    await writer.view("c-2", None, NOW - timedelta(seconds=10))
    await writer.view("c-1", "u-1", NOW - timedelta(seconds=10))
    snapshot = await snapshot_at(engine, NOW)
    assert snapshot["activeUsers"] == {"current": 1, "today": 1, "peak24h": 1}
    assert snapshot["content"]["totalViews"] == 3


async def test_transaction_is_activity_at_creation_and_at_status_change(engine: AsyncEngine, writer: Writer) -> None:
    hour_ago = NOW - timedelta(hours=1)
    await writer.transaction("t-1", "u-completes", "3.00", "pending", hour_ago)
    await writer.transaction("t-2", "u-waits", "3.00", "pending", hour_ago)
    await writer.transaction("t-3", "u-just-created", "3.00", "pending", NOW - timedelta(seconds=10))
    before = await snapshot_at(engine, NOW)
    assert before["activeUsers"] == {"current": 1, "today": 3, "peak24h": 1}
    await writer.move("t-1", "completed", NOW - timedelta(seconds=10))
    after = await snapshot_at(engine, NOW)
    assert after["activeUsers"] == {"current": 2, "today": 3, "peak24h": 2}
    assert after["transactions"] == {"total": 3, "pending": 2, "completed": 1, "failed": 0}


async def test_failure_sent_as_an_event_is_activity_at_its_time(engine: AsyncEngine) -> None:
    api = ApiWriter(engine)
    await api.transaction("t-1", "u-1", "3.00", "pending", NOW - timedelta(hours=1))
    await api.move("t-1", "failed", NOW - timedelta(seconds=10))
    snapshot = await snapshot_at(engine, NOW)
    assert snapshot["activeUsers"] == {"current": 1, "today": 1, "peak24h": 1}
    # 300 s after the failure the user is no longer current.
    later = await snapshot_at(engine, NOW - timedelta(seconds=10) + timedelta(seconds=300))
    assert later["activeUsers"]["current"] == 0


async def test_a_user_named_in_several_tables_counts_once(engine: AsyncEngine, writer: Writer) -> None:
    await writer.activity("u-1", NOW - timedelta(seconds=10))
    await writer.view("c-1", "u-1", NOW - timedelta(seconds=20))
    await writer.transaction("t-1", "u-1", "2.00", "completed", NOW - timedelta(seconds=30))
    await writer.activity("u-2", NOW - timedelta(seconds=5))
    await writer.activity("u-2", NOW - timedelta(seconds=4))
    await writer.view("c-1", "u-3", DAY_START + timedelta(hours=1))  # today, not current
    snapshot = await snapshot_at(engine, NOW)
    assert snapshot["activeUsers"] == {"current": 2, "today": 3, "peak24h": 2}


async def test_active_today_counts_from_local_midnight(engine: AsyncEngine, writer: Writer) -> None:
    await writer.activity("u-at-midnight", DAY_START)
    await writer.activity("u-before-midnight", DAY_START - MICROSECOND)
    await writer.view("c-1", "u-yesterday-viewer", DAY_START - timedelta(hours=2))
    await writer.activity("u-now", NOW)
    snapshot = await snapshot_at(engine, NOW)
    assert snapshot["activeUsers"] == {"current": 1, "today": 2, "peak24h": 1}


async def test_timestamps_written_with_a_zero_fraction_compare_as_the_same_instant(engine: AsyncEngine) -> None:
    # On SQLite the contract allows `HH:MM:SS.000000` as well as `HH:MM:SS`: both are the same instant.
    def with_fraction(moment: datetime) -> Any:
        if engine.dialect.name == "sqlite":
            return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    statement = "INSERT INTO user_activity (user_id, at) VALUES (:user_id, :at)"
    await execute(engine, statement, user_id="u-at-window-start", at=with_fraction(NOW - timedelta(seconds=300)))
    snapshot = await snapshot_at(engine, NOW)
    assert snapshot["activeUsers"] == {"current": 0, "today": 1, "peak24h": 0}

    await execute(engine, statement, user_id="u-at-now", at=with_fraction(NOW))
    snapshot = await snapshot_at(engine, NOW)
    assert snapshot["activeUsers"] == {"current": 1, "today": 2, "peak24h": 1}


# --- rows written by plain SQL ------------------------------------------------------------------------


async def test_inserted_completed_transaction_counts_in_revenue_counts_and_users(engine: AsyncEngine) -> None:
    await insert_transaction(
        engine, "t-1", "u-1", "12.50", "completed", NOW - timedelta(hours=2), NOW - timedelta(seconds=30)
    )
    snapshot = await snapshot_at(engine, NOW)
    assert money(snapshot) == revenue(total="12.50", today="12.50", week="12.50", month="12.50")
    assert snapshot["transactions"] == {"total": 1, "pending": 0, "completed": 1, "failed": 0}
    assert snapshot["content"] == {"totalViews": 0, "totalPurchases": 1, "conversionRate": Decimal("0.00")}
    assert snapshot["activeUsers"] == {"current": 1, "today": 1, "peak24h": 1}


async def test_update_to_completed_moves_the_row_and_brings_its_revenue(engine: AsyncEngine) -> None:
    await insert_transaction(engine, "t-1", "u-1", "20.00", "pending", NOW - timedelta(hours=1), None)
    before = await snapshot_at(engine, NOW)
    assert money(before) == revenue(total="0.00", today="0.00", week="0.00", month="0.00")
    assert before["transactions"] == {"total": 1, "pending": 1, "completed": 0, "failed": 0}
    assert before["activeUsers"] == {"current": 0, "today": 1, "peak24h": 0}

    updated = await execute(
        engine,
        "UPDATE transactions SET status = 'completed', completed_at = :completed_at WHERE id = 't-1'",
        completed_at=db_time(engine, NOW - timedelta(seconds=10)),
    )
    assert updated == 1
    after = await snapshot_at(engine, NOW)
    assert money(after) == revenue(total="20.00", today="20.00", week="20.00", month="20.00")
    assert after["transactions"] == {"total": 1, "pending": 0, "completed": 1, "failed": 0}
    assert after["content"]["totalPurchases"] == 1
    assert after["activeUsers"] == {"current": 1, "today": 1, "peak24h": 1}


async def test_update_to_failed_without_a_time_makes_the_user_active_at_the_update(engine: AsyncEngine) -> None:
    # The trigger stamps the database's clock, so this one case reads metrics at the real time.
    created = datetime.now(UTC) - timedelta(hours=1)
    await insert_transaction(engine, "t-1", "u-1", "20.00", "pending", created, None)
    before = await snapshot_at(engine, datetime.now(UTC))
    assert before["activeUsers"]["current"] == 0
    assert before["transactions"] == {"total": 1, "pending": 1, "completed": 0, "failed": 0}

    updated = await execute(engine, "UPDATE transactions SET status = 'failed' WHERE id = 't-1'")
    assert updated == 1
    after = await snapshot_at(engine, datetime.now(UTC))
    assert after["activeUsers"]["current"] == 1
    assert after["transactions"] == {"total": 1, "pending": 0, "completed": 0, "failed": 1}
    assert money(after) == revenue(total="0.00", today="0.00", week="0.00", month="0.00")


# --- transaction counts and conversion ----------------------------------------------------------------


async def test_transactions_are_counted_by_current_status_and_conversion_uses_total_views(
    engine: AsyncEngine, writer: Writer
) -> None:
    hour_ago = NOW - timedelta(hours=1)
    for tx_id in ("t-1", "t-2", "t-3", "t-4"):
        await writer.transaction(tx_id, "u-1", "1.00", "pending", hour_ago)
    await writer.transaction("t-5", "u-2", "1.00", "failed", hour_ago)
    await writer.transaction("t-6", "u-2", "1.00", "completed", hour_ago)
    await writer.move("t-1", "completed", NOW - timedelta(minutes=20))
    await writer.move("t-2", "completed", NOW - timedelta(minutes=20))
    await writer.move("t-3", "failed", NOW - timedelta(minutes=20))
    for i in range(9):
        await writer.view(f"c-{i % 2}", None if i % 3 else "u-3", NOW - timedelta(minutes=i))
    snapshot = await snapshot_at(engine, NOW)
    assert snapshot["transactions"] == {"total": 6, "pending": 1, "completed": 3, "failed": 2}
    assert snapshot["content"] == {"totalViews": 9, "totalPurchases": 3, "conversionRate": Decimal("33.33")}
    assert str(snapshot["content"]["conversionRate"]) == "33.33"
    assert money(snapshot)["total"] == "3.00"


# --- idempotency --------------------------------------------------------------------------------------


async def test_the_same_batch_stored_three_times_changes_the_numbers_once(engine: AsyncEngine) -> None:
    at = (NOW - timedelta(minutes=1)).isoformat()
    batch = [
        {"type": "user_activity", "userId": "u-1", "eventId": "e-activity", "at": at},
        {"type": "content_view", "contentId": "c-1", "userId": "u-2", "eventId": "e-view", "at": at},
        {"type": "transaction", "id": "t-1", "userId": "u-3", "amount": "12.50", "status": "pending", "at": at},
        {"type": "transaction", "id": "t-1", "status": "completed", "at": at},
        {"type": "transaction", "id": "t-2", "userId": "u-3", "amount": "4.00", "status": "failed", "at": at},
    ]
    empty = await snapshot_at(engine, NOW)
    results = [await ingest(engine, batch, received_at=NOW) for _ in range(3)]
    assert results == [
        IngestResult(accepted=5, duplicates=0),
        IngestResult(accepted=0, duplicates=5),
        IngestResult(accepted=0, duplicates=5),
    ]
    snapshot = await snapshot_at(engine, NOW)
    assert snapshot != empty
    assert money(snapshot) == revenue(total="12.50", today="12.50", week="12.50", month="12.50")
    assert snapshot["transactions"] == {"total": 2, "pending": 0, "completed": 1, "failed": 1}
    assert snapshot["content"] == {"totalViews": 1, "totalPurchases": 1, "conversionRate": Decimal("100.00")}
    assert snapshot["activeUsers"] == {"current": 3, "today": 3, "peak24h": 3}


async def test_each_repeat_of_a_batch_leaves_the_snapshot_unchanged(engine: AsyncEngine) -> None:
    batch = [
        {"type": "user_activity", "userId": "u-1", "eventId": "e-1"},
        {"type": "content_view", "contentId": "c-1", "eventId": "e-2"},
        {"type": "transaction", "id": "t-1", "userId": "u-1", "amount": "0.10", "status": "completed"},
    ]
    await ingest(engine, batch, received_at=NOW - timedelta(seconds=30))
    first = await snapshot_at(engine, NOW)
    # Repeats arrive later; without `at` their receipt time would be new activity if they were stored.
    for delay in (20, 10):
        assert await ingest(engine, batch, received_at=NOW - timedelta(seconds=delay)) == IngestResult(0, 3)
        assert await snapshot_at(engine, NOW) == first
    assert first["transactions"] == {"total": 1, "pending": 0, "completed": 1, "failed": 0}
    assert first["content"] == {"totalViews": 1, "totalPurchases": 1, "conversionRate": Decimal("100.00")}
