"""History read from the rollups (see migration 0003), exact and fast at any size.

A range is cut into the part that lines up with rollup buckets, summed from rollup rows, and
edges that do not line up, counted from raw rows with the plain queries of `history`. The sum
is the same as the plain query over the whole range, to the cent.

On PostgreSQL a bucket may have several rows (one per writing statement, migration 0007): every
read sums them, and `fold_recent` replaces the recent buckets' rows by one each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, column, func, or_, select, table, text, values
from sqlalchemy.ext.asyncio import AsyncConnection

from server.analytics.buckets import Bucket
from server.storage import history
from server.storage.types import UtcDateTime

QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # the rollups' bucket origin (UTC)

_sales = table("rollup_sales_15m", column("bucket", UtcDateTime()), column("revenue_cents"), column("purchases"))
_views = table("rollup_views_15m", column("bucket", UtcDateTime()), column("views"))


def _content(name: str) -> Any:
    return table(
        name,
        column("bucket", UtcDateTime()),
        column("content_id"),
        column("views"),
        column("purchases"),
        column("revenue_cents"),
    )


_content_hour = _content("rollup_content_hour")
_content_day = _content("rollup_content_day")


def _fold_statement(name: str, key: str, measures: tuple[str, ...]) -> Any:
    """Fold the rows of each key from bucket :lo on that has more than one into their sum. Rows a
    writer commits meanwhile are not in the statement's snapshot: neither deleted nor summed."""
    sums = ", ".join(f"sum({m})" for m in measures)
    nonzero = " OR ".join(f"sum({m}) <> 0" for m in measures)
    match = " AND ".join(f"r.{k} = k.{k}" for k in key.split(", "))
    return text(
        f"WITH k AS (SELECT {key} FROM {name} WHERE bucket >= :lo GROUP BY {key} HAVING count(*) > 1),"
        f" gone AS (DELETE FROM {name} r USING k WHERE {match} RETURNING r.*)"
        f" INSERT INTO {name} ({key}, {', '.join(measures)}) SELECT {key}, {sums} FROM gone"
        f" GROUP BY {key} HAVING {nonzero}"
    ).bindparams(bindparam("lo", type_=UtcDateTime()))


_CONTENT_MEASURES = ("views", "purchases", "revenue_cents")
_FOLDS = (
    (_fold_statement("rollup_sales_15m", "bucket", ("revenue_cents", "purchases")), timedelta(minutes=15)),
    (_fold_statement("rollup_views_15m", "bucket", ("views",)), timedelta(minutes=15)),
    (_fold_statement("rollup_content_hour", "bucket, content_id", _CONTENT_MEASURES), timedelta(hours=1)),
    (_fold_statement("rollup_content_day", "bucket, content_id", _CONTENT_MEASURES), timedelta(days=1)),
)


async def fold_recent(conn: AsyncConnection, now: datetime) -> None:
    """PostgreSQL: one row per bucket (and content) from the bucket before `now`'s on, where
    writers have appended several. Older buckets keep theirs (only late events add to them): the
    sums are exact either way. The caller keeps folders from running at once."""
    for statement, step in _FOLDS:
        await conn.execute(statement, {"lo": floor_to(now, step) - step})


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
            select(p.c.i, func.sum(_sales.c.revenue_cents), func.sum(_sales.c.purchases))
            .select_from(p)
            .join(_sales, and_(_sales.c.bucket >= p.c.start, _sales.c.bucket < p.c.end))
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
            select(p.c.i, func.sum(_views.c.views))
            .select_from(p)
            .join(_views, and_(_views.c.bucket >= p.c.start, _views.c.bucket < p.c.end))
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
    for level, rollup in (("hour", _content_hour), ("day", _content_day)):
        for sign in (1, -1):
            ranges = [
                and_(rollup.c.bucket >= s.start, rollup.c.bucket < s.end)
                for s in segments
                if s.level == level and s.sign == sign
            ]
            if not ranges:
                continue
            query = (
                select(
                    rollup.c.content_id,
                    func.sum(rollup.c.views),
                    func.sum(rollup.c.purchases),
                    func.sum(rollup.c.revenue_cents),
                )
                .where(or_(*ranges))
                .group_by(rollup.c.content_id)
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
