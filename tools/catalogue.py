"""The demo platform's catalogue: a title and a category for each content id the simulator uses.

Written by `python -m tools.demo` into the `content` table (id, title, category) where the
database has one; a database without it (a schema from before the catalogue) gets the history
alone, and the dashboard shows ids.
"""

from __future__ import annotations

import random

from sqlalchemy import column, func, insert, inspect, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tools.simulate import Catalogue

# (category, its share of the catalogue, the words its titles are made of)
_CATEGORIES: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Courses", 22, ("Practical", "Modern", "Complete", "Applied", "Hands-on"),
     ("Python", "SQL", "Statistics", "Design Systems", "Data Visualisation", "Machine Learning", "Excel")),
    ("Films", 20, ("The Last", "A Quiet", "Northern", "The Long", "Midnight"),
     ("Harbour", "Summer", "Frontier", "Garden", "Crossing", "Lighthouse", "Orchard")),
    ("Music", 18, ("Live at", "Songs from", "Echoes of", "Nights in", "Sessions:"),
     ("Lisbon", "the Coast", "Berlin", "Kyoto", "the Valley", "Montreal", "Havana")),
    ("E-books", 16, ("A Field Guide to", "Notes on", "The Art of", "Beginner's", "Short History of"),
     ("Baking", "Birdwatching", "Negotiation", "Urban Gardens", "Sleep", "Chess", "Typography")),
    ("Podcasts", 12, ("Deep Dive:", "Weekly", "Behind", "Talking", "Inside"),
     ("Startups", "Climate", "Football", "Cinema", "Science", "History", "Architecture")),
    ("Games", 12, ("Legends of", "Tiny", "Space", "Puzzle", "Rogue"),
     ("Archipelago", "Foundry", "Kingdom", "Station", "Labyrinth", "Orbit", "Caravan")),
)  # fmt: skip
_CATALOGUE_SEED = 1_127  # fixed: the same id has the same title in every demo database


def demo_catalogue(size: int | None = None) -> list[tuple[str, str, str]]:
    """(content id, title, category) for the simulator's catalogue, the same on every call."""
    content_ids = Catalogue().content_ids if size is None else Catalogue(size).content_ids
    rng = random.Random(_CATALOGUE_SEED)
    weights = [share for _, share, _, _ in _CATEGORIES]
    used: set[str] = set()
    entries: list[tuple[str, str, str]] = []
    for content_id in content_ids:
        category, _, firsts, seconds = rng.choices(_CATEGORIES, weights=weights)[0]
        title = f"{rng.choice(firsts)} {rng.choice(seconds)}"
        if title in used:  # 35 combinations per category: later ones get a volume number
            number = 2
            while f"{title}, vol. {number}" in used:
                number += 1
            title = f"{title}, vol. {number}"
        used.add(title)
        entries.append((content_id, title, category))
    return entries


def _has_content_table(sync_conn: Connection) -> bool:
    return bool(inspect(sync_conn).has_table("content"))


async def write_catalogue(conn: AsyncConnection) -> int:
    """Insert the demo catalogue into an empty `content` table; rows written (0 without the table,
    or when it already describes some content: the platform's own titles win)."""
    if not await conn.run_sync(_has_content_table):
        return 0
    content = table("content", column("id"), column("title"), column("category"))
    if (await conn.execute(select(func.count()).select_from(content))).scalar_one():
        return 0
    rows = [{"id": i, "title": title, "category": category} for i, title, category in demo_catalogue()]
    await conn.execute(insert(content), rows)
    return len(rows)
