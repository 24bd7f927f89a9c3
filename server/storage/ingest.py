"""Storing a batch of validated events in one transaction: all of it, or none of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.errors import Conflict, ValidationFailed
from server.events import ContentViewEvent, Event, Problem, TransactionEvent, UserActivityEvent
from server.storage.db import write_connection
from server.storage.models import ContentView, Transaction, UserActivity

_MAX_ATTEMPTS = 3


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

    @property
    def was_pending(self) -> bool:
        return self.status == "pending" or self.status_changed_at is not None


async def store_events(
    engine: AsyncEngine, events: list[Event], *, received_at: datetime, currency: str
) -> IngestResult:
    """Store `events` durably (committed before returning) and count what changed."""
    for attempt in range(_MAX_ATTEMPTS):
        conn = await write_connection(engine)
        try:
            async with conn.begin():
                return await _store(conn, events, received_at, currency)
        except _RaceLost:
            if attempt == _MAX_ATTEMPTS - 1:
                raise Conflict("the same transactions are being changed concurrently; retry") from None
        finally:
            await conn.close()
    raise AssertionError("unreachable")


async def _store(conn: AsyncConnection, events: list[Event], received_at: datetime, currency: str) -> IngestResult:
    accepted = duplicates = 0
    for table, kind in ((UserActivity.__table__, UserActivityEvent), (ContentView.__table__, ContentViewEvent)):
        rows = [_row(e, received_at) for e in events if isinstance(e, kind)]
        if rows:
            inserted = await _insert_idempotent(conn, table, rows)
            accepted += inserted
            duplicates += len(rows) - inserted
    tx_events = [(i, e) for i, e in enumerate(events) if isinstance(e, TransactionEvent)]
    if tx_events:
        tx_accepted, tx_duplicates = await _store_transactions(conn, tx_events, received_at, currency)
        accepted += tx_accepted
        duplicates += tx_duplicates
    return IngestResult(accepted=accepted, duplicates=duplicates)


def _row(event: UserActivityEvent | ContentViewEvent, received_at: datetime) -> dict[str, Any]:
    at = event.at or received_at
    if isinstance(event, UserActivityEvent):
        return {"user_id": event.userId, "at": at, "event_id": event.eventId}
    return {"content_id": event.contentId, "user_id": event.userId, "viewed_at": at, "event_id": event.eventId}


def _dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


async def _insert_idempotent(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert rows, skipping any whose eventId is already stored (or repeated in the batch)."""
    plain = [r for r in rows if r["event_id"] is None]
    keyed: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["event_id"] is not None:
            keyed.setdefault(row["event_id"], row)
    if plain:
        await conn.execute(insert(table), plain)
    inserted = len(plain)
    if keyed:
        statement = (
            _dialect_insert(conn, table)
            .values(list(keyed.values()))
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(table.c.event_id)
        )
        inserted += len((await conn.execute(statement)).all())
    return inserted


async def _store_transactions(
    conn: AsyncConnection, tx_events: list[tuple[int, TransactionEvent]], received_at: datetime, currency: str
) -> tuple[int, int]:
    ids = sorted({e.id for _, e in tx_events})
    query = select(Transaction.__table__).where(Transaction.id.in_(ids))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
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
        for row in (await conn.execute(query)).all()
    }

    accepted = duplicates = 0
    missing: list[Problem] = []
    conflicts: list[Problem] = []
    changed: set[str] = set()
    for index, event in tx_events:
        at = event.at or received_at
        state = states.get(event.id)
        if state is None:
            absent = [name for name in ("userId", "amount") if getattr(event, name) is None]
            missing.extend(Problem(index, name, "required for a new transaction") for name in absent)
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
            accepted += 1
            continue
        problem = _check_repeat(index, event, state, currency)
        if problem is not None:
            conflicts.append(problem)
        elif event.status == state.status or (event.status == "pending" and state.was_pending):
            duplicates += 1
        elif state.status != "pending":
            conflicts.append(Problem(index, "status", f"cannot move from {state.status} to {event.status}"))
        elif at < state.created_at:
            conflicts.append(Problem(index, "at", "a status change cannot precede the transaction's creation"))
        else:
            state.status = event.status
            state.status_changed_at = at
            state.completed_at = at if event.status == "completed" else None
            changed.add(event.id)
            accepted += 1
    if missing:
        raise ValidationFailed(
            "a new transaction needs userId and amount; nothing was stored", [p.to_dict() for p in missing]
        )
    if conflicts:
        raise Conflict("events contradict stored transactions; nothing was stored", [p.to_dict() for p in conflicts])

    new_rows = [
        _tx_row(tx_id, states[tx_id]) for tx_id in ids if tx_id in changed and states[tx_id].stored_status is None
    ]
    if new_rows:
        statement = (
            _dialect_insert(conn, Transaction.__table__)
            .values(new_rows)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(Transaction.id)
        )
        if len((await conn.execute(statement)).all()) != len(new_rows):
            raise _RaceLost
    for tx_id in ids:
        state = states[tx_id]
        if tx_id in changed and state.stored_status is not None:
            result = await conn.execute(
                update(Transaction.__table__)
                .where(Transaction.id == tx_id, Transaction.status == state.stored_status)
                .values(status=state.status, completed_at=state.completed_at, status_changed_at=state.status_changed_at)
            )
            if result.rowcount != 1:
                raise _RaceLost
    return accepted, duplicates


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


def _tx_row(tx_id: str, state: _TxState) -> dict[str, Any]:
    return {
        "id": tx_id,
        "user_id": state.user_id,
        "content_id": state.content_id,
        "amount": state.amount,
        "currency": state.currency,
        "status": state.status,
        "created_at": state.created_at,
        "completed_at": state.completed_at,
        "status_changed_at": state.status_changed_at,
    }
