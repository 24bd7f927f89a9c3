"""Content and categories ranked and described: pure, shared by the analytics endpoints and the live
top-content feed. Figures in, answer items out; the catalogue's descriptions are passed in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from server.metrics import conversion_rate
from server.storage.catalogue import UNDESCRIBED, Description, title_of
from server.storage.history import ContentFigures, money


@dataclass(frozen=True)
class CategoryFigures:
    category: str | None  # None: content the catalogue gives no category
    contents: int  # content items of the category with figures
    views: int
    purchases: int
    revenue_cents: int


def measure(by: str, views: int, purchases: int, revenue_cents: int) -> Any:
    """What a ranking `by` compares: exact integers, or the rounded rate for `conversion`, as shown."""
    if by == "conversion":
        return conversion_rate(purchases, views)
    return {"views": views, "purchases": purchases, "revenue": revenue_cents}[by]


def top_content(figures: Iterable[ContentFigures], by: str, limit: int) -> list[ContentFigures]:
    """The first `limit` by `by`; equal values by views, then by content id."""
    ranked = sorted(
        figures, key=lambda f: (-measure(by, f.views, f.purchases, f.revenue_cents), -f.views, f.content_id)
    )
    return ranked[:limit]


def by_category(figures: Iterable[ContentFigures], described: Mapping[str, Description]) -> list[CategoryFigures]:
    """The figures summed per category (unranked)."""
    totals: dict[str | None, list[int]] = {}
    for f in figures:
        group = totals.setdefault((described.get(f.content_id) or UNDESCRIBED).category, [0, 0, 0, 0])
        group[0] += 1
        group[1] += f.views
        group[2] += f.purchases
        group[3] += f.revenue_cents
    return [CategoryFigures(category, *group) for category, group in totals.items()]


def top_categories(groups: Iterable[CategoryFigures], by: str, limit: int) -> list[CategoryFigures]:
    """The first `limit` by `by`; equal values by views, then by name, the uncategorised last."""
    ranked = sorted(
        groups,
        key=lambda g: (
            -measure(by, g.views, g.purchases, g.revenue_cents),
            -g.views,
            g.category is None,
            g.category or "",
        ),
    )
    return ranked[:limit]


def _figures(views: int, purchases: int, revenue_cents: int) -> dict[str, Any]:
    return {
        "views": views,
        "purchases": purchases,
        "revenue": money(revenue_cents),
        "conversionRate": conversion_rate(purchases, views),
    }


def content_item(f: ContentFigures, described: Mapping[str, Description]) -> dict[str, Any]:
    """`{"contentId", "title", "category", "views", "purchases", "revenue", "conversionRate"}`."""
    description = described.get(f.content_id)
    return {
        "contentId": f.content_id,
        "title": title_of(f.content_id, description),
        "category": (description or UNDESCRIBED).category,
        **_figures(f.views, f.purchases, f.revenue_cents),
    }


def category_item(g: CategoryFigures) -> dict[str, Any]:
    """`{"category", "contents", "views", "purchases", "revenue", "conversionRate"}`."""
    return {"category": g.category, "contents": g.contents, **_figures(g.views, g.purchases, g.revenue_cents)}
