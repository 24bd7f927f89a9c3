"""The content catalogue (`content`): descriptions stored from `content` events, read wherever
content is shown.

The platform may also write the table directly; a content without a row, or with a null title,
is shown by its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.events import ContentEvent
from server.storage.models import Content

_READ_CHUNK = 1000  # ids per `IN (...)`: far below either database's limit on bound parameters


@dataclass(frozen=True)
class Description:
    title: str | None
    category: str | None


UNDESCRIBED = Description(None, None)


def title_of(content_id: str, description: Description | None) -> str:
    """What content is called where it is shown: its title, else its id."""
    if description is None or not description.title:
        return content_id
    return description.title


async def read(conn: AsyncConnection, content_ids: Iterable[str]) -> dict[str, Description]:
    """The stored descriptions of `content_ids` (content without a row is left out)."""
    ids = sorted(set(content_ids))
    found: dict[str, Description] = {}
    for first in range(0, len(ids), _READ_CHUNK):
        chunk = ids[first : first + _READ_CHUNK]
        rows = await conn.execute(select(Content.id, Content.title, Content.category).where(Content.id.in_(chunk)))
        found.update({content_id: Description(title, category) for content_id, title, category in rows.all()})
    return found


async def describe(conn: AsyncConnection, events: Sequence[ContentEvent]) -> tuple[int, int]:
    """Store a batch's descriptions, in order (the latest of a content wins), inside the caller's
    transaction; returns (events that changed a description, repeats that changed nothing)."""
    stored = await read(conn, (event.contentId for event in events))
    current: dict[str, Description] = dict(stored)
    accepted = duplicates = 0
    for event in events:
        description = Description(event.title, event.category)
        if current.get(event.contentId) == description:
            duplicates += 1
        else:
            current[event.contentId] = description
            accepted += 1
    rows = [
        {"id": content_id, "title": d.title, "category": d.category}
        for content_id, d in sorted(current.items())  # in id order: two writers never lock in opposite orders
        if stored.get(content_id) != d
    ]
    if rows:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(Content.__table__)
        statement = insert.values(rows)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["id"],
                set_={"title": statement.excluded.title, "category": statement.excluded.category},
            )
        )
    return accepted, duplicates
