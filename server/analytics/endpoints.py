"""`/api/v1/analytics/*` beyond the realtime snapshot: timeseries, top content, categories, funnel, users.

Every endpoint answers JSON, or CSV with `format=csv` (the same rows, a header line first).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from server.analytics import params, ranking
from server.analytics.buckets import Bucket, Interval, TooManyBuckets, buckets, clipped
from server.errors import ValidationFailed
from server.metrics import conversion_rate, encode, format_timestamp
from server.service import MetricsService
from server.storage import catalogue, history, rollups

T = TypeVar("T")
HEATMAP_LIMIT = 24 * 366  # hourly buckets behind the weekday x hour heatmap: a year at most


async def _read(service: MetricsService, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async with service.engine.connect() as conn:  # DatabaseUnavailable (503) when it cannot be reached
        return await work(conn)


def _edges(
    rng: params.Range, interval: Interval, *, field: str = "interval", advice: str | None = None
) -> list[Bucket]:
    # A bound lies in the years 0003 to 9998 (server.fields): whole buckets around it stay in the calendar.
    try:
        return buckets(rng.start, rng.end, interval, rng.zone, params.MAX_BUCKETS)
    except TooManyBuckets as exc:
        message = advice or str(exc)
        raise ValidationFailed(message, [{"field": field, "message": message}]) from None


def _answer(
    request: Request, body: dict[str, Any], rows: Sequence[dict[str, Any]], columns: Sequence[str], name: str
) -> Response:
    if request.query_params.get("format") == "csv":
        return _csv(rows, columns, name)
    return Response(encode(body), media_type="application/json")


def _csv(rows: Sequence[dict[str, Any]], columns: Sequence[str], name: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()  # even without rows: a CSV always says what its columns are
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _ts(moment: datetime) -> str:
    return format_timestamp(moment)


async def timeseries(request: Request) -> Response:
    service: MetricsService = request.state.service
    query = params.parse_series(request.query_params, now=service.now(), default_tz=service.settings.timezone)
    edges = _edges(query.range, query.interval)
    if query.until is not None:
        edges = clipped(edges, query.until)
    values, total = await _read(service, lambda conn: _series(conn, query.metric, edges))
    points = [{"start": _ts(b.start), "end": _ts(b.end), **v} for b, v in zip(edges, values, strict=True)]
    body = {
        "metric": query.metric,
        "interval": query.interval,
        "tz": query.range.tz,
        "from": _ts(edges[0].start),
        "to": _ts(edges[-1].end),
        "points": points,
        "total": total,
    }
    columns = (
        ("start", "end", "pending", "completed", "failed", "total")
        if query.metric == "transactions"
        else (
            "start",
            "end",
            "value",
        )
    )
    return _answer(request, body, points, columns, f"{query.metric}-{query.interval}")


async def _series(conn: AsyncConnection, metric: str, edges: list[Bucket]) -> tuple[list[dict[str, Any]], Any]:
    if metric == "transactions":
        counts = await history.transactions_by_status(conn, edges)
        points = [{**c, "total": c["pending"] + c["completed"] + c["failed"]} for c in counts]
        total = {k: sum(p[k] for p in points) for k in ("pending", "completed", "failed", "total")}
        return points, total
    if metric == "views":
        seen = await rollups.views(conn, edges)
        return [{"value": v} for v in seen], sum(seen)
    if metric == "active_users":
        active = await history.active_users(conn, edges)
        overall = await history.distinct_active_users(conn, edges[0].start, edges[-1].end)
        return [{"value": v} for v in active], overall
    sales = await rollups.revenue_and_purchases(conn, edges)
    if metric == "revenue":
        return [{"value": history.money(c)} for c, _ in sales], history.money(sum(c for c, _ in sales))
    if metric == "purchases":
        return [{"value": n} for _, n in sales], sum(n for _, n in sales)
    seen = await rollups.views(conn, edges)  # conversion
    rates = [{"value": conversion_rate(n, v)} for (_, n), v in zip(sales, seen, strict=True)]
    return rates, conversion_rate(sum(n for _, n in sales), sum(seen))


async def top_content(request: Request) -> Response:
    service: MetricsService = request.state.service
    query = params.parse_top(request.query_params, now=service.now(), default_tz=service.settings.timezone)
    rng = query.range

    async def work(conn: AsyncConnection) -> tuple[list[history.ContentFigures], dict[str, catalogue.Description]]:
        figures = await rollups.content_figures(conn, rng.start, rng.end)
        # A rate over a handful of views says little: `minViews` keeps such content out of every ranking.
        kept = [f for f in figures if f.views >= query.min_views]
        # Describe only the items returned: a catalogue has thousands of entries, an answer a handful.
        ranked = ranking.top_content(kept, query.by, query.limit)
        return ranked, await catalogue.read(conn, (f.content_id for f in ranked))

    ranked, described = await _read(service, work)
    items = [ranking.content_item(f, described) for f in ranked]
    body = {
        "by": query.by,
        "from": _ts(rng.start),
        "to": _ts(rng.end),
        "limit": query.limit,
        "minViews": query.min_views,
        "items": items,
    }
    columns = ("contentId", "title", "category", "views", "purchases", "revenue", "conversionRate")
    return _answer(request, body, items, columns, f"top-content-{query.by}")


async def categories(request: Request) -> Response:
    service: MetricsService = request.state.service
    query = params.parse_categories(request.query_params, now=service.now(), default_tz=service.settings.timezone)
    rng = query.range

    async def work(conn: AsyncConnection) -> list[ranking.CategoryFigures]:
        figures = await rollups.content_figures(conn, rng.start, rng.end)
        return ranking.by_category(figures, await catalogue.read(conn, (f.content_id for f in figures)))

    groups = await _read(service, work)
    items = [ranking.category_item(g) for g in ranking.top_categories(groups, query.by, query.limit)]
    body = {"by": query.by, "from": _ts(rng.start), "to": _ts(rng.end), "limit": query.limit, "items": items}
    columns = ("category", "contents", "views", "purchases", "revenue", "conversionRate")
    return _answer(request, body, items, columns, f"content-categories-{query.by}")


async def funnel(request: Request) -> Response:
    service: MetricsService = request.state.service
    query = params.parse_funnel(request.query_params, now=service.now(), default_tz=service.settings.timezone)
    rng = query.range

    async def work(conn: AsyncConnection) -> tuple[tuple[int, int, int], dict[str, catalogue.Description]]:
        counts = await history.funnel_counts(conn, rng.start, rng.end, query.content_id)
        chosen = [] if query.content_id is None else [query.content_id]
        return counts, await catalogue.read(conn, chosen)

    (seen, started, completed), described = await _read(service, work)
    steps = [
        {"step": "views", "count": seen, "rate": conversion_rate(seen, seen)},
        {"step": "started", "count": started, "rate": conversion_rate(started, seen)},
        {"step": "completed", "count": completed, "rate": conversion_rate(completed, started)},
    ]
    description = described.get(query.content_id or "")
    body = {
        "from": _ts(rng.start),
        "to": _ts(rng.end),
        "contentId": query.content_id,
        # The chosen content as it is shown (its title, else its id); null for all content.
        "title": None if query.content_id is None else catalogue.title_of(query.content_id, description),
        "category": (description or catalogue.UNDESCRIBED).category,
        "steps": steps,
        "overallRate": conversion_rate(completed, seen),
    }
    return _answer(request, body, steps, ("step", "count", "rate"), "funnel")


async def users(request: Request) -> Response:
    service: MetricsService = request.state.service
    query = params.parse_users(request.query_params, now=service.now(), default_tz=service.settings.timezone)
    rng = query.range
    too_long = "the range is longer than a year; choose a shorter one"
    days = _edges(rng, "day", field="from", advice=too_long)
    # The heatmap covers exactly the days reported, from the first local midnight to the last.
    try:
        hours = buckets(days[0].start, days[-1].end, "hour", rng.zone, HEATMAP_LIMIT)
    except TooManyBuckets:
        raise ValidationFailed(too_long, [{"field": "from", "message": too_long}]) from None

    async def work(conn: AsyncConnection) -> tuple[list[int], list[int], list[int]]:
        return (
            await history.active_users(conn, days),
            await history.new_users(conn, days),
            await history.active_users(conn, hours),
        )

    active, new, hourly = await _read(service, work)
    day_rows = [
        {
            "date": b.start.astimezone(rng.zone).date().isoformat(),
            "start": _ts(b.start),
            "end": _ts(b.end),
            "active": a,
            "new": n,
            "returning": a - n,
        }
        for b, a, n in zip(days, active, new, strict=True)
    ]
    cells = {(d, h): 0 for d in range(7) for h in range(24)}
    for bucket, count in zip(hours, hourly, strict=True):
        local = bucket.start.astimezone(rng.zone)
        cells[(local.weekday(), local.hour)] += count
    heatmap = [{"weekday": d, "hour": h, "activeUsers": n} for (d, h), n in cells.items()]
    body = {
        "from": _ts(days[0].start),
        "to": _ts(days[-1].end),
        "tz": rng.tz,
        "days": day_rows,
        "heatmap": heatmap,
    }
    if query.part == "days":
        return _answer(request, body, day_rows, ("date", "start", "end", "active", "new", "returning"), "users-days")
    return _answer(request, body, heatmap, ("weekday", "hour", "activeUsers"), "users-heatmap")
