"""Pace's inputs (`server.metrics.pace_windows`): revenue and distinct active users of an earlier
local day from its midnight to the cut-off, at a cost that does not grow with history; read only.

Exactly the plain aggregates of `queries.pace_inputs` (the reference), over `[start, cutoff]` like
today's `[day_start, now]`:
- revenue: the 15-minute sales rollup for the window's whole quarters, raw completed
  transactions for its two edges (midnight to the first quarter, the last quarter to the cut-off);
- active users: from the instance's first-moment lists (`server.storage.pace_users`) when it
  has a usable one for that day, a binary search and no query; otherwise the plain distinct count
  of `[start, cutoff]` on the covering `(time, user_id)` indexes, on both stacks, whose cost grows
  with the traffic of that part of the day (100-270 ms a day at the 1 M bench size). The day
  tables do not help: they know who was active on a day, not when first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.metrics import PaceWindow
from server.storage.models import RollupSales15m, Transaction
from server.storage.queries import _active_users, _cents_sum, _completed_time, _to_cents
from server.storage.rollups import QUARTER, ceil_to, floor_to


async def read_pace_inputs(
    conn: AsyncConnection,
    windows: tuple[PaceWindow, PaceWindow],
    known_users: tuple[int | None, int | None] = (None, None),
) -> tuple[int, int, int, int]:
    """(revenue cents yesterday, revenue cents last week, active users yesterday, active users
    last week) over the windows `pace_windows(now, zone)` gives, in one statement. `known_users`
    are the windows' active users when already counted (`PaceUsers.count`); None: count here."""
    columns: list[Any] = []
    for window in windows:
        columns.extend(_window_revenue(conn, window))
    columns.extend(
        literal(known) if known is not None else _active_users(window.start, window.cutoff, exclusive_start=False)
        for window, known in zip(windows, known_users, strict=True)
    )
    row = (await conn.execute(select(*columns))).one()
    return int(row[0]) + _to_cents(row[1]), int(row[2]) + _to_cents(row[3]), int(row[4]), int(row[5])


def _window_revenue(conn: AsyncConnection, window: PaceWindow) -> list[Any]:
    """Completed revenue in cents of `[start, cutoff]`: the rollup's whole quarters, then the raw edges."""
    first, last = ceil_to(window.start, QUARTER), floor_to(window.cutoff, QUARTER)
    if first >= last:  # no whole quarter: all of it raw
        raw = select(_cents_sum(conn, Transaction.amount)).where(
            Transaction.status == "completed", _completed_time >= window.start, _completed_time <= window.cutoff
        )
        return [literal(0), raw.scalar_subquery()]
    bucket = RollupSales15m.bucket
    rollup = select(func.coalesce(func.sum(RollupSales15m.revenue_cents), 0)).where(bucket >= first, bucket < last)
    # Two index ranges, not the whole day filtered: the edges are at most a quarter each.
    at_edges = or_(
        and_(_completed_time >= window.start, _completed_time < first),
        and_(_completed_time >= last, _completed_time <= window.cutoff),
    )
    raw = select(_cents_sum(conn, Transaction.amount)).where(Transaction.status == "completed", at_edges)
    return [rollup.scalar_subquery(), raw.scalar_subquery()]
