"""Pace's inputs (`server.metrics.pace_windows`): revenue and distinct active users of an earlier
local day from its midnight to the cut-off, at a cost that does not grow with history; read only.

Exactly the plain aggregates of `queries.pace_inputs` (the reference), over `[start, cutoff]` like
today's `[day_start, now]`:
- revenue: the 15-minute sales rollup for the window's whole quarters, raw completed
  transactions for its two edges (midnight to the first quarter, the last quarter to the cut-off);
- active users: from the instance's first-moment lists (`server.storage.pace_users`) when it
  has a usable one for that day and no late write reached that day since it was read (compared
  in the same statement, so the figure is exact either way); otherwise the plain distinct count
  of `[start, cutoff]` on the covering `(time, user_id)` indexes, on both stacks, whose cost grows
  with the traffic of that part of the day (100-270 ms a day at the 1 M bench size). The day
  tables do not help: they know who was active on a day, not when first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.metrics import PaceWindow
from server.storage.models import RollupSales15m, Transaction
from server.storage.pace_users import ListCount, late_writes
from server.storage.queries import _active_users, _cents_sum, _completed_time, _to_cents
from server.storage.rollups import QUARTER, ceil_to, floor_to


@dataclass(frozen=True)
class PaceInputs:
    revenue_yesterday_cents: int
    revenue_last_week_cents: int
    active_yesterday: int
    active_last_week: int
    outdated_lists: tuple[PaceWindow, ...]  # windows whose list missed a late write: counted plainly


async def read_pace_inputs(
    conn: AsyncConnection,
    windows: tuple[PaceWindow, PaceWindow],
    listed: tuple[ListCount | None, ListCount | None] = (None, None),
) -> PaceInputs:
    """Revenue and active users over the windows `pace_windows(now, zone)` gives, in one
    statement. `listed` are the windows' active users by the instance's lists
    (`PaceUsers.count`), used when their day had no late write since; None: counted here."""
    columns: list[Any] = []
    for window in windows:
        columns.extend(_window_revenue(conn, window))
    for window, known in zip(windows, listed, strict=True):
        plain = _active_users(window.start, window.cutoff, exclusive_start=False)
        if known is None:
            columns.extend([plain, literal(True)])
            continue
        unchanged = late_writes(known.day_start, known.day_end) == known.late_writes
        columns.extend([case((unchanged, literal(known.users)), else_=plain), unchanged])
    row = (await conn.execute(select(*columns))).one()
    return PaceInputs(
        revenue_yesterday_cents=int(row[0]) + _to_cents(row[1]),
        revenue_last_week_cents=int(row[2]) + _to_cents(row[3]),
        active_yesterday=int(row[4]),
        active_last_week=int(row[6]),
        outdated_lists=tuple(window for window, fresh in zip(windows, (row[5], row[7]), strict=True) if not fresh),
    )


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
