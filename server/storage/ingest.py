"""Storing a batch of validated events in one transaction: all of it, or none of it.

On PostgreSQL each table gets one statement per batch whatever its size: the rows go as column
arrays through `unnest`, so the statement text never changes and is planned once per connection,
and the triggers behind the tables (rollups, snapshot counters) run once per table and batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.errors import Conflict
from server.events import ContentEvent, ContentViewEvent, Event, Problem, TransactionEvent, UserActivityEvent
from server.storage import catalogue
from server.storage.db import write_connection
from server.storage.models import ContentView, Transaction, UserActivity

_MAX_ATTEMPTS = 3

# Batches write at the same time on PostgreSQL: the rollup and snapshot-total triggers append
# rows (server/storage/sql/postgresql/), so batches share no row there. They can still meet on a user's
# row of the day (`active_user_days`, upserted in key order by each table's trigger) or on a
# transaction, and in rare orders deadlock; or fail to serialize: the whole batch is tried again,
# as for a lost race.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int


class _RaceLost(Exception):
    """A concurrent request changed a row this batch read; the whole batch is tried again."""


@dataclass
class _TxState:
    user_id: str
    content_id: str | None
    amount: Decimal
    currency: str
    status: str
    created_at: datetime
    completed_at: datetime | None
    status_changed_at: datetime | None
    stored_status: str | None  # status in the database when read; None for a row new in this batch


@dataclass(frozen=True)
class _Rows:
    """One table's new rows of a batch as column arrays, and how many events they came from."""

    table: Table
    columns: dict[str, list[Any]]
    events: int

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, values, strict=True)) for values in zip(*self.columns.values(), strict=True)]


@dataclass(frozen=True)
class _Batch:
    activity: _Rows
    views: _Rows
    transactions: list[tuple[int, TransactionEvent]]  # with each event's index in the batch


async def store_events(
    engine: AsyncEngine, events: list[Event], *, received_at: datetime, currency: str
) -> IngestResult:
    """Store `events` durably (committed before returning) and count what changed."""
    # Catalogue descriptions go to their own table, in the same transaction (all or nothing).
    descriptions = [event for event in events if isinstance(event, ContentEvent)]
    batch = _split(events, received_at)
    for attempt in range(_MAX_ATTEMPTS):
        conn = await write_connection(engine)
        try:
            async with conn.begin():
                result = await _store(conn, batch, received_at, currency)
                if descriptions:
                    described, repeated = await catalogue.describe(conn, descriptions)
                    result = IngestResult(result.accepted + described, result.duplicates + repeated)
                return result
        except (_RaceLost, DBAPIError) as exc:
            if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) not in _RETRYABLE_SQLSTATES:
                raise
            if attempt == _MAX_ATTEMPTS - 1:
                raise Conflict("the same transactions are being changed concurrently; retry") from None
        finally:
            await conn.close()
    raise AssertionError("unreachable")


def _split(events: list[Event], received_at: datetime) -> _Batch:
    """The batch by table; a repeated eventId keeps only its first event (the others change nothing)."""
    activity: dict[str, list[Any]] = {name: [] for name in _ACTIVITY_COLUMNS}
    views: dict[str, list[Any]] = {name: [] for name in _VIEW_COLUMNS}
    transactions: list[tuple[int, TransactionEvent]] = []
    activity_events = view_events = 0
    seen: set[tuple[bool, str]] = set()
    for index, event in enumerate(events):
        if isinstance(event, ContentEvent):
            continue  # stored by catalogue.describe
        if isinstance(event, TransactionEvent):
            transactions.append((index, event))
            continue
        is_view = isinstance(event, ContentViewEvent)
        if is_view:
            view_events += 1
        else:
            activity_events += 1
        if event.eventId is not None:
            if (is_view, event.eventId) in seen:
                continue
            seen.add((is_view, event.eventId))
        if isinstance(event, ContentViewEvent):
            views["content_id"].append(event.contentId)
            views["user_id"].append(event.userId)
            views["viewed_at"].append(event.at or received_at)
            views["event_id"].append(event.eventId)
        else:
            assert isinstance(event, UserActivityEvent)
            activity["user_id"].append(event.userId)
            activity["at"].append(event.at or received_at)
            activity["event_id"].append(event.eventId)
    return _Batch(
        activity=_Rows(UserActivity.__table__, activity, activity_events),
        views=_Rows(ContentView.__table__, views, view_events),
        transactions=transactions,
    )


async def _store(conn: AsyncConnection, batch: _Batch, received_at: datetime, currency: str) -> IngestResult:
    if conn.dialect.name == "postgresql":
        return await _store_postgresql(conn, batch, received_at, currency)
    accepted = duplicates = 0
    for rows in (batch.activity, batch.views):
        if rows.events:
            inserted = await _insert_rows(conn, rows)
            accepted += inserted
            duplicates += rows.events - inserted
    if batch.transactions:
        ids = sorted({e.id for _, e in batch.transactions})
        stored = (await conn.execute(select(Transaction.__table__).where(Transaction.id.in_(ids)))).all()
        plan = _plan_transactions(batch.transactions, stored, received_at, currency)
        await _write_transactions(conn, plan.created, plan.moved)
        accepted += plan.accepted
        duplicates += plan.duplicates
    return IngestResult(accepted=accepted, duplicates=duplicates)


async def _store_postgresql(conn: AsyncConnection, batch: _Batch, received_at: datetime, currency: str) -> IngestResult:
    """Read (and lock) the batch's stored transactions, then every write in one statement: two
    round trips at most, whatever the batch holds."""
    plan = _TxPlan()
    if batch.transactions:
        ids = sorted({e.id for _, e in batch.transactions})
        # Locked in id order, so that no two writers lock the same transactions in opposite orders.
        stored = (await conn.execute(_PG_SELECT_TRANSACTIONS, {"ids": ids})).all()
        plan = _plan_transactions(batch.transactions, stored, received_at, currency)
    parameters: dict[str, list[Any]] = {}
    parts = []
    for part, rows in (("activity", batch.activity), ("views", batch.views)):
        if rows.events:
            parts.append(part)
            parameters.update({f"{part}_{name}": values for name, values in rows.columns.items()})
    if plan.created:
        parts.append("created")
        parameters["created_id"] = [tx_id for tx_id, _ in plan.created]
        for name in _TX_VALUES:
            parameters[f"created_{name}"] = [getattr(state, name) for _, state in plan.created]
    if plan.moved:
        parts.append("moved")
        parameters["moved_id"] = [tx_id for tx_id, _ in plan.moved]
        for name in _MOVE_VALUES:
            parameters[f"moved_{name}"] = [getattr(state, name) for _, state in plan.moved]
    if not parts:
        return IngestResult(accepted=plan.accepted, duplicates=plan.duplicates)
    counts = (await conn.execute(_pg_write(tuple(parts)), parameters)).one()._mapping
    if counts.get("created", 0) != len(plan.created) or counts.get("moved", 0) != len(plan.moved):
        raise _RaceLost
    accepted = plan.accepted + counts.get("activity", 0) + counts.get("views", 0)
    duplicates = plan.duplicates + sum(
        rows.events - counts.get(part, 0) for part, rows in (("activity", batch.activity), ("views", batch.views))
    )
    return IngestResult(accepted=accepted, duplicates=duplicates)


_POSTGRESQL = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated


def _arrays(part: str, table: Table, columns: tuple[str, ...]) -> str:
    dialect = _POSTGRESQL
    return ", ".join(f"CAST(:{part}_{name} AS {table.c[name].type.compile(dialect)}[])" for name in columns)


_ACTIVITY_COLUMNS = ("user_id", "at", "event_id")
_VIEW_COLUMNS = ("content_id", "user_id", "viewed_at", "event_id")
_TX_VALUES = (
    "user_id",
    "content_id",
    "amount",
    "currency",
    "status",
    "created_at",
    "completed_at",
    "status_changed_at",
)
_MOVE_VALUES = ("stored_status", "status", "completed_at", "status_changed_at")
_PG_PARTS = {
    "activity": f"INSERT INTO user_activity ({', '.join(_ACTIVITY_COLUMNS)})"
    f" SELECT * FROM unnest({_arrays('activity', UserActivity.__table__, _ACTIVITY_COLUMNS)})"
    " ON CONFLICT (event_id) DO NOTHING RETURNING 1",
    "views": f"INSERT INTO content_views ({', '.join(_VIEW_COLUMNS)})"
    f" SELECT * FROM unnest({_arrays('views', ContentView.__table__, _VIEW_COLUMNS)})"
    " ON CONFLICT (event_id) DO NOTHING RETURNING 1",
    "created": f"INSERT INTO transactions (id, {', '.join(_TX_VALUES)})"
    f" SELECT * FROM unnest({_arrays('created', Transaction.__table__, ('id', *_TX_VALUES))})"
    " ON CONFLICT (id) DO NOTHING RETURNING 1",
    # Compare-and-set: a row whose status moved since it was read is not updated (and counted).
    "moved": "UPDATE transactions AS t SET status = u.status, completed_at = u.completed_at,"
    " status_changed_at = u.status_changed_at"
    " FROM unnest(CAST(:moved_id AS TEXT[]), CAST(:moved_stored_status AS TEXT[]), CAST(:moved_status AS TEXT[]),"
    " CAST(:moved_completed_at AS TIMESTAMP WITH TIME ZONE[]),"
    " CAST(:moved_status_changed_at AS TIMESTAMP WITH TIME ZONE[]))"
    " AS u(id, stored_status, status, completed_at, status_changed_at)"
    " WHERE t.id = u.id AND t.status = u.stored_status RETURNING 1",
}


@functools.cache
def _pg_write(parts: tuple[str, ...]) -> Any:
    """One statement writing the parts a batch has (each table's triggers then run once), counting
    the rows each part wrote. Its text depends only on which parts are present, so PostgreSQL plans
    each of the few variants once per connection."""
    ctes = ", ".join(f"{part} AS ({_PG_PARTS[part]})" for part in parts)
    counts = ", ".join(f"(SELECT count(*) FROM {part}) AS {part}" for part in parts)
    return text(f"WITH {ctes} SELECT {counts}")


def _dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


async def _insert_rows(conn: AsyncConnection, rows: _Rows) -> int:
    """Insert rows, skipping any whose eventId is already stored; returns how many were new."""
    all_rows = rows.as_dicts()
    plain = [row for row in all_rows if row["event_id"] is None]
    keyed = [row for row in all_rows if row["event_id"] is not None]
    if plain:
        await conn.execute(insert(rows.table), plain)
    inserted = len(plain)
    if keyed:
        statement = (
            _dialect_insert(conn, rows.table)
            .values(keyed)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(rows.table.c.event_id)
        )
        inserted += len((await conn.execute(statement)).all())
    return inserted


@dataclass
class _TxPlan:
    """What a batch's transaction events do to the stored rows: insert these, move those."""

    accepted: int = 0
    duplicates: int = 0
    created: list[tuple[str, _TxState]] = field(default_factory=list)
    moved: list[tuple[str, _TxState]] = field(default_factory=list)


def _plan_transactions(
    tx_events: list[tuple[int, TransactionEvent]], stored: Sequence[Any], received_at: datetime, currency: str
) -> _TxPlan:
    """Apply the events in order to the `stored` rows; Conflict lists every problem.

    What only the stored rows can tell is a conflict (409), never a validation error: an event for
    an id nobody created that is not a complete creation (userId and amount), a move back or
    sideways from a final status, a repeated field that differs. Repeating the current status, or
    the creation itself, changes nothing (a duplicate).
    """
    states: dict[str, _TxState] = {
        row.id: _TxState(
            user_id=row.user_id,
            content_id=row.content_id,
            amount=row.amount,
            currency=row.currency,
            status=row.status,
            created_at=row.created_at,
            completed_at=row.completed_at,
            status_changed_at=row.status_changed_at,
            stored_status=row.status,
        )
        for row in stored
    }
    plan = _TxPlan()
    conflicts: list[Problem] = []
    changed: set[str] = set()
    for index, event in tx_events:
        at = event.at or received_at
        state = states.get(event.id)
        if state is None:
            absent = [name for name in ("userId", "amount") if getattr(event, name) is None]
            conflicts.extend(Problem(index, name, "required for a new transaction") for name in absent)
            if absent:
                continue
            assert event.userId is not None and event.amount is not None
            states[event.id] = _TxState(
                user_id=event.userId,
                content_id=event.contentId,
                amount=event.amount,
                currency=event.currency or currency,
                status=event.status,
                created_at=at,
                completed_at=at if event.status == "completed" else None,
                status_changed_at=None,
                stored_status=None,
            )
            changed.add(event.id)
            plan.accepted += 1
            continue
        problem = _check_repeat(index, event, state, currency)
        if problem is not None:
            conflicts.append(problem)
        elif event.status == state.status or _repeats_creation(event, state):
            plan.duplicates += 1
        elif state.status != "pending":
            conflicts.append(Problem(index, "status", f"cannot move from {state.status} to {event.status}"))
        elif at < state.created_at:
            conflicts.append(Problem(index, "at", "a status change cannot precede the transaction's creation"))
        else:
            state.status = event.status
            state.status_changed_at = at
            state.completed_at = at if event.status == "completed" else None
            changed.add(event.id)
            plan.accepted += 1
    if conflicts:
        raise Conflict("events contradict stored transactions; nothing was stored", [p.to_dict() for p in conflicts])
    for tx_id in sorted(changed):
        state = states[tx_id]
        (plan.created if state.stored_status is None else plan.moved).append((tx_id, state))
    return plan


async def _write_transactions(
    conn: AsyncConnection, created: list[tuple[str, _TxState]], moved: list[tuple[str, _TxState]]
) -> None:
    """Insert the new transactions and move the status of stored ones (compare-and-set on the status)."""
    if created:
        new_rows = [{"id": tx_id, **{name: getattr(state, name) for name in _TX_VALUES}} for tx_id, state in created]
        statement = (
            _dialect_insert(conn, Transaction.__table__)
            .values(new_rows)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(Transaction.id)
        )
        if len((await conn.execute(statement)).all()) != len(new_rows):
            raise _RaceLost
    for tx_id, state in moved:
        result = await conn.execute(
            update(Transaction.__table__)
            .where(Transaction.id == tx_id, Transaction.status == state.stored_status)
            .values(status=state.status, completed_at=state.completed_at, status_changed_at=state.status_changed_at)
        )
        if result.rowcount != 1:
            raise _RaceLost


_PG_SELECT_TRANSACTIONS = text(
    f"SELECT id, {', '.join(_TX_VALUES)} FROM transactions WHERE id = ANY(CAST(:ids AS TEXT[])) ORDER BY id FOR UPDATE"
)


def _repeats_creation(event: TransactionEvent, state: _TxState) -> bool:
    """Whether `event` is the transaction's creation sent again, as a retried batch does: it names
    `userId` and `amount` (equal to the stored ones, checked before) and the status it was created
    with. Only a pending transaction moves, so one that has moved was created pending. A bare
    `{"id", "status": "pending"}` is a status move, and moving back is a conflict."""
    created_pending = state.status == "pending" or state.status_changed_at is not None
    return event.userId is not None and event.amount is not None and event.status == "pending" and created_pending


def _check_repeat(index: int, event: TransactionEvent, state: _TxState, currency: str) -> Problem | None:
    for name, stored in (
        ("userId", state.user_id),
        ("contentId", state.content_id),
        ("amount", state.amount),
        ("currency", state.currency),
    ):
        value = getattr(event, name)
        if value is not None and value != stored:
            return Problem(index, name, f"differs from the stored transaction ({stored})")
    return None
