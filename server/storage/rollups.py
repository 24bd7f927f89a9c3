"""History read from the rollups (`server.storage.models.derived`), exact and fast at any size.

A range is cut into the part that lines up with rollup buckets, summed from rollup rows, and
edges that do not line up, counted from raw rows with the plain queries of `history`. The sum
is the same as the plain query over the whole range, to the cent.

On PostgreSQL a bucket may have several rows (one per writing statement): every read sums them,
folded (`server.storage.maintenance`) or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, column, func, or_, select, values
from sqlalchemy.ext.asyncio import AsyncConnection

from server.analytics.buckets import Bucket
from server.storage import history
from server.storage.models import RollupContentDay, RollupContentHour, RollupSales15m, RollupViews15m
from server.storage.types import UtcDateTime

QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # the rollups' bucket origin (UTC)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    return moment - (moment - _ORIGIN) % step


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    floored = floor_to(moment, step)
    return floored if floored == moment else floored + step


@dataclass(frozen=True)
class Segment:
    level: str  # "raw", "hour" or "day"
    start: datetime
    end: datetime
    sign: int = 1  # -1: subtracted (a whole day minus the hours outside the range)


def _partial_day(start: datetime, end: datetime) -> list[Segment]:
    """Whole hours `[start, end)` inside one UTC day: as hours, or as the day minus the other
    hours when that reads fewer rows (the sums are additive, so both are exact)."""
    if end - start <= DAY / 2:
        return [Segment("hour", start, end)]
    day = floor_to(start, DAY)
    parts = [Segment("day", day, day + DAY), Segment("hour", day, start, -1), Segment("hour", end, day + DAY, -1)]
    return [p for p in parts if p.start < p.end]


def split(start: datetime, end: datetime) -> list[Segment]:
    """`[start, end)` as raw edges, hours and days (UTC) whose signed sum is exactly the range."""
    h1, h2 = ceil_to(start, HOUR), floor_to(end, HOUR)
    if h1 >= h2:
        return [Segment("raw", start, end)]
    d1, d2 = ceil_to(h1, DAY), floor_to(h2, DAY)
    if d1 >= d2:
        middle = [Segment("hour", h1, h2)]
    else:
        middle = [*_partial_day(h1, d1), Segment("day", d1, d2), *_partial_day(d2, h2)]
    parts = [Segment("raw", start, h1), *middle, Segment("raw", h2, end)]
    return [p for p in parts if p.start < p.end]


def _quarters(edges: Sequence[Bucket]) -> tuple[list[tuple[int, Bucket]], list[tuple[int, Bucket]]]:
    """Each bucket's whole quarter hours (for the rollup) and its leftover edges (for raw rows)."""
    whole: list[tuple[int, Bucket]] = []
    rest: list[tuple[int, Bucket]] = []
    for i, bucket in enumerate(edges):
        a, b = ceil_to(bucket.start, QUARTER), floor_to(bucket.end, QUARTER)
        if a >= b:
            rest.append((i, bucket))
            continue
        whole.append((i, Bucket(a, b)))
        rest.extend((i, part) for part in (Bucket(bucket.start, a), Bucket(b, bucket.end)) if part.start < part.end)
    return whole, rest


def _parts_table(parts: Sequence[tuple[int, Bucket]]) -> Any:
    return (
        values(column("i", Integer), column("start", UtcDateTime()), column("end", UtcDateTime()), name="parts")
        .data([(i, b.start, b.end) for i, b in parts])
        .cte("parts")
    )


async def revenue_and_purchases(conn: AsyncConnection, edges: Sequence[Bucket]) -> list[tuple[int, int]]:
    """(revenue in cents, purchases) per bucket, as `history.revenue_and_purchases` answers."""
    totals = [[0, 0] for _ in edges]
    whole, rest = _quarters(edges)
    if whole:
        p = _parts_table(whole)
        query = (
            select(p.c.i, func.sum(RollupSales15m.revenue_cents), func.sum(RollupSales15m.purchases))
            .select_from(p)
            .join(RollupSales15m, and_(RollupSales15m.bucket >= p.c.start, RollupSales15m.bucket < p.c.end))
            .group_by(p.c.i)
        )
        for i, cents, purchases in (await conn.execute(query)).all():
            totals[i][0] += int(cents)
            totals[i][1] += int(purchases)
    if rest:
        for (i, _), (cents, purchases) in zip(
            rest, await history.revenue_and_purchases(conn, [b for _, b in rest]), strict=True
        ):
            totals[i][0] += cents
            totals[i][1] += purchases
    return [(cents, purchases) for cents, purchases in totals]


async def views(conn: AsyncConnection, edges: Sequence[Bucket]) -> list[int]:
    """Views per bucket, as `history.views` answers."""
    counts = [0 for _ in edges]
    whole, rest = _quarters(edges)
    if whole:
        p = _parts_table(whole)
        query = (
            select(p.c.i, func.sum(RollupViews15m.views))
            .select_from(p)
            .join(RollupViews15m, and_(RollupViews15m.bucket >= p.c.start, RollupViews15m.bucket < p.c.end))
            .group_by(p.c.i)
        )
        for i, count in (await conn.execute(query)).all():
            counts[i] += int(count)
    if rest:
        for (i, _), count in zip(rest, await history.views(conn, [b for _, b in rest]), strict=True):
            counts[i] += count
    return counts


async def content_figures(conn: AsyncConnection, start: datetime, end: datetime) -> list[history.ContentFigures]:
    """Views, purchases and revenue per content in `[start, end)`, as `history.content_figures`."""
    figures: dict[str, list[int]] = {}

    def add(content_id: str, seen: int, bought: int, cents: int) -> None:
        entry = figures.setdefault(content_id, [0, 0, 0])
        entry[0] += seen
        entry[1] += bought
        entry[2] += cents

    segments = split(start, end)
    rollup: type[RollupContentHour] | type[RollupContentDay]
    for level, rollup in (("hour", RollupContentHour), ("day", RollupContentDay)):
        for sign in (1, -1):
            ranges = [
                and_(rollup.bucket >= s.start, rollup.bucket < s.end)
                for s in segments
                if s.level == level and s.sign == sign
            ]
            if not ranges:
                continue
            query = (
                select(
                    rollup.content_id,
                    func.sum(rollup.views),
                    func.sum(rollup.purchases),
                    func.sum(rollup.revenue_cents),
                )
                .where(or_(*ranges))
                .group_by(rollup.content_id)
            )
            for content_id, seen, bought, cents in (await conn.execute(query)).all():
                add(content_id, sign * int(seen), sign * int(bought), sign * int(cents))
    for segment in segments:
        if segment.level == "raw":
            for f in await history.content_figures(conn, segment.start, segment.end):
                add(f.content_id, f.views, f.purchases, f.revenue_cents)
    return [
        history.ContentFigures(cid, seen, bought, cents)
        for cid, (seen, bought, cents) in figures.items()
        if seen or bought
    ]
