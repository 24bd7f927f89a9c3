"""Analytics over time ranges: the same definitions as the snapshot, per bucket, exact.

Buckets are passed to the database as a small VALUES table of (index, start, end) rows, and
rows are assigned by a range join on the indexed time columns, so SQLite and PostgreSQL answer
alike and no time zone arithmetic happens in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, and_, column, func, select, union_all, values
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import CTE, Subquery

from server.analytics.buckets import Bucket
from server.storage.models import ContentView, Transaction, UserActivity
from server.storage.queries import _cents_sum, _to_cents
from server.storage.types import UtcDateTime

completed_time = func.coalesce(Transaction.completed_at, Transaction.created_at)


def _bucket_table(edges: Sequence[Bucket]) -> CTE:
    # A VALUES list, not a UNION of SELECTs: SQLite caps a compound SELECT at 500 terms.
    table = values(
        column("i", Integer), column("start", UtcDateTime()), column("end", UtcDateTime()), name="buckets"
    ).data([(i, b.start, b.end) for i, b in enumerate(edges)])
    return table.cte("buckets")


def _activity(start: Any | None, end: Any | None) -> Subquery:
    """(user_id, at) of every event that names a user, within `[start, end)` (None: unbounded)."""

    def within(column: Any) -> Any:
        if start is None or end is None:
            return column.is_not(None)
        return (column >= start) & (column < end)

    return union_all(
        select(UserActivity.user_id, UserActivity.at.label("at")).where(within(UserActivity.at)),
        select(ContentView.user_id, ContentView.viewed_at.label("at")).where(
            within(ContentView.viewed_at), ContentView.user_id.is_not(None)
        ),
        select(Transaction.user_id, Transaction.created_at.label("at")).where(within(Transaction.created_at)),
        select(Transaction.user_id, Transaction.completed_at.label("at")).where(within(Transaction.completed_at)),
        select(Transaction.user_id, Transaction.status_changed_at.label("at")).where(
            within(Transaction.status_changed_at)
        ),
    ).subquery("activity")


async def _per_bucket(conn: AsyncConnection, query: Any) -> dict[int, tuple[Any, ...]]:
    return {row[0]: tuple(row[1:]) for row in (await conn.execute(query)).all()}


async def revenue_and_purchases(conn: AsyncConnection, edges: Sequence[Bucket]) -> list[tuple[int, int]]:
    """(revenue in cents, purchases) per bucket, by completion time."""
    b = _bucket_table(edges)
    query = (
        select(b.c.i, _cents_sum(conn, Transaction.amount), func.count(Transaction.id))
        .select_from(b)
        .join(
            Transaction,
            and_(Transaction.status == "completed", completed_time >= b.c.start, completed_time < b.c.end),
        )
        .group_by(b.c.i)
    )
    found = await _per_bucket(conn, query)
    return [(_to_cents(found[i][0]), found[i][1]) if i in found else (0, 0) for i in range(len(edges))]


async def views(conn: AsyncConnection, edges: Sequence[Bucket], content_id: str | None = None) -> list[int]:
    b = _bucket_table(edges)
    condition = and_(ContentView.viewed_at >= b.c.start, ContentView.viewed_at < b.c.end)
    if content_id is not None:
        condition = and_(condition, ContentView.content_id == content_id)
    query = select(b.c.i, func.count(ContentView.id)).select_from(b).join(ContentView, condition).group_by(b.c.i)
    found = await _per_bucket(conn, query)
    return [found.get(i, (0,))[0] for i in range(len(edges))]


async def transactions_by_status(conn: AsyncConnection, edges: Sequence[Bucket]) -> list[dict[str, int]]:
    """Transactions created in each bucket, by their current status."""
    b = _bucket_table(edges)
    query = (
        select(b.c.i, Transaction.status, func.count(Transaction.id))
        .select_from(b)
        .join(Transaction, and_(Transaction.created_at >= b.c.start, Transaction.created_at < b.c.end))
        .group_by(b.c.i, Transaction.status)
    )
    points = [{"pending": 0, "completed": 0, "failed": 0} for _ in edges]
    for i, status, count in (await conn.execute(query)).all():
        points[i][status] = count
    return points


async def active_users(conn: AsyncConnection, edges: Sequence[Bucket]) -> list[int]:
    """Distinct users with any activity in each bucket."""
    b = _bucket_table(edges)
    activity = _activity(edges[0].start, edges[-1].end)
    query = (
        select(b.c.i, func.count(activity.c.user_id.distinct()))
        .select_from(b)
        .join(activity, and_(activity.c.at >= b.c.start, activity.c.at < b.c.end))
        .group_by(b.c.i)
    )
    found = await _per_bucket(conn, query)
    return [found.get(i, (0,))[0] for i in range(len(edges))]


async def distinct_active_users(conn: AsyncConnection, start: Any, end: Any) -> int:
    activity = _activity(start, end)
    return (await conn.execute(select(func.count(activity.c.user_id.distinct())))).scalar_one()


async def new_users(conn: AsyncConnection, edges: Sequence[Bucket]) -> list[int]:
    """Users whose first activity ever falls in each bucket."""
    b = _bucket_table(edges)
    everything = _activity(None, None)
    first_seen = (
        select(everything.c.user_id, func.min(everything.c.at).label("first"))
        .group_by(everything.c.user_id)
        .subquery("first_seen")
    )
    query = (
        select(b.c.i, func.count(first_seen.c.user_id))
        .select_from(b)
        .join(first_seen, and_(first_seen.c.first >= b.c.start, first_seen.c.first < b.c.end))
        .group_by(b.c.i)
    )
    found = await _per_bucket(conn, query)
    return [found.get(i, (0,))[0] for i in range(len(edges))]


@dataclass(frozen=True)
class ContentFigures:
    content_id: str
    views: int
    purchases: int
    revenue_cents: int


async def content_figures(conn: AsyncConnection, start: Any, end: Any) -> list[ContentFigures]:
    """Views, purchases and revenue of every content seen or bought in `[start, end)`."""
    viewed = await conn.execute(
        select(ContentView.content_id, func.count(ContentView.id))
        .where(ContentView.viewed_at >= start, ContentView.viewed_at < end)
        .group_by(ContentView.content_id)
    )
    figures: dict[str, list[int]] = {cid: [count, 0, 0] for cid, count in viewed.all()}
    bought = await conn.execute(
        select(Transaction.content_id, func.count(Transaction.id), _cents_sum(conn, Transaction.amount))
        .where(
            Transaction.status == "completed",
            Transaction.content_id.is_not(None),
            completed_time >= start,
            completed_time < end,
        )
        .group_by(Transaction.content_id)
    )
    for cid, count, cents in bought.all():
        entry = figures.setdefault(cid, [0, 0, 0])
        entry[1], entry[2] = count, _to_cents(cents)
    return [ContentFigures(cid, v, p, r) for cid, (v, p, r) in figures.items()]


async def funnel_counts(conn: AsyncConnection, start: Any, end: Any, content_id: str | None) -> tuple[int, int, int]:
    """(views, transactions started, of those completed) in `[start, end)`."""
    view_query = select(func.count(ContentView.id)).where(ContentView.viewed_at >= start, ContentView.viewed_at < end)
    tx_query = select(
        func.count(Transaction.id), func.coalesce(func.sum((Transaction.status == "completed").cast(Integer)), 0)
    ).where(Transaction.created_at >= start, Transaction.created_at < end)
    if content_id is not None:
        view_query = view_query.where(ContentView.content_id == content_id)
        tx_query = tx_query.where(Transaction.content_id == content_id)
    seen = (await conn.execute(view_query)).scalar_one()
    started, completed = (await conn.execute(tx_query)).one()
    return seen, started, int(completed)


def money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
