"""`python -m tools.demo`: weeks of demo history, written straight into an empty database.

A newcomer's dashboard should have numbers at once (revenue today, this week and this month,
active users, conversion), and the history pages something to show. The history follows a
daily and weekly rhythm with a slow growth, and uses the simulator's catalogue and user ids
(`tools.simulate`), so that live simulated traffic reads as its continuation.

Two safeguards, both from the contract: nothing is written into a database that already holds
events (a second run does nothing and says so), and a configured database (DATABASE_URL set)
gets no made-up data unless `--yes-write-demo-data` asks for it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, literal, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.errors import ConfigurationError, DatabaseUnavailable
from server.metrics import period_starts
from server.settings import Settings
from server.storage.db import create_engine, write_connection
from server.storage.migrate import upgrade_to_head
from server.storage.models import ContentView, Transaction, UserActivity
from tools.simulate import Catalogue, ZipfChooser, user_id

# Views in a day at the end of the history, before the weekday's weight (a small platform).
_VIEWS_PER_DAY = 1700
# Relative traffic by local hour: quiet at night, a lunch bump, the evening peak.
_HOURLY = (
    0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.25, 0.45, 0.65, 0.75, 0.80, 0.85,
    0.90, 0.85, 0.80, 0.80, 0.85, 0.95, 1.10, 1.25, 1.30, 1.20, 0.90, 0.50,
)  # fmt: skip
_WEEKDAY = (0.95, 0.95, 1.00, 1.00, 1.10, 1.30, 1.25)  # Monday..Sunday: weekends are busier
_GROWTH = 0.25  # the last day sees 25 % more traffic than the first
_USERS = 3000  # user ids in the history; a few are far more active than most
_SIGNED_IN = 0.8  # share of views by a signed-in user
_ACTIVITY_PER_VIEW = 0.35  # a signed-in view comes with an activity ping this often
_BUY_CHANCE = 0.05  # a signed-in view leads to a purchase this often
_FAILURE = 0.04  # share of settled transactions that failed
_SLOW_SETTLEMENT = 0.03  # share of transactions that wait minutes, not seconds, for their outcome
_RECENT_PENDING = (3, 6)  # transactions still pending at `now`: a handful, all recent
_UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class SeedSummary:
    """Rows written by one seeding; all zero when the database already held events."""

    transactions: int
    content_views: int
    user_activity: int

    @property
    def written(self) -> bool:
        return bool(self.transactions or self.content_views or self.user_activity)


@dataclass(frozen=True)
class DemoHistory:
    """Rows for the contract's tables, ready for an executemany insert."""

    transactions: list[dict[str, Any]]
    content_views: list[dict[str, Any]]
    user_activity: list[dict[str, Any]]


def build_demo_history(
    now: datetime, rng: random.Random, days: int = 35, *, zone: ZoneInfo = _UTC, currency: str = "USD"
) -> DemoHistory:
    """The history of the `days` before `now` (nothing after it); pure, so a seed repeats it."""
    builder = _HistoryBuilder(rng, now, currency)
    begin = now - timedelta(days=days)
    per_hour = _VIEWS_PER_DAY / sum(_HOURLY) / (1 + _GROWTH)
    start = begin
    while start < now:
        end = min(start + timedelta(hours=1), now)
        local = (start + (end - start) / 2).astimezone(zone)
        growth = 1 + _GROWTH * ((start - begin) / (now - begin))
        expected = per_hour * _HOURLY[local.hour] * _WEEKDAY[local.weekday()] * growth * rng.uniform(0.85, 1.15)
        for _ in range(int(expected * ((end - start) / timedelta(hours=1)) + rng.random())):
            builder.view(start + (end - start) * rng.random(), begin)
        start = end
    for _ in range(rng.randint(*_RECENT_PENDING)):
        builder.transaction(now - timedelta(seconds=rng.uniform(10, 600)), "pending", None)
    # Today's revenue must show even just after local midnight, when the rhythm alone may give none.
    day_start = period_starts(now, zone).day_start
    if now > day_start and not any(
        row["completed_at"] is not None and row["completed_at"] >= day_start for row in builder.transactions
    ):
        created = day_start + (now - day_start) * rng.random()
        builder.transaction(created, "completed", created + (now - created) * rng.random())
    return builder.finish()


class _HistoryBuilder:
    """Rows as the sidecar would have stored them, appended in any order and sorted at the end."""

    def __init__(self, rng: random.Random, now: datetime, currency: str) -> None:
        self._rng = rng
        self._now = now
        self._currency = currency
        self._catalogue = Catalogue()
        self._users = ZipfChooser(_USERS, 0.6)
        self.views: list[dict[str, Any]] = []
        self.activity: list[dict[str, Any]] = []
        self.transactions: list[dict[str, Any]] = []

    def view(self, at: datetime, begin: datetime) -> None:
        """A view at `at`; a signed-in one may come with activity and lead to a purchase."""
        rng = self._rng
        item = self._catalogue.pick(rng)
        user = user_id(self._users.pick(rng)) if rng.random() < _SIGNED_IN else None
        self.views.append({"content_id": self._catalogue.content_ids[item], "user_id": user, "viewed_at": at})
        if user is None:
            return
        if rng.random() < _ACTIVITY_PER_VIEW:
            self.activity.append({"user_id": user, "at": max(begin, at - timedelta(seconds=rng.uniform(0, 60)))})
        if rng.random() < _BUY_CHANCE:
            created = at + timedelta(seconds=rng.uniform(5, 90))
            slow = rng.random() < _SLOW_SETTLEMENT
            settled = created + timedelta(seconds=rng.uniform(120, 1800) if slow else rng.uniform(2, 20))
            if settled <= self._now:
                self.transaction(created, "failed" if rng.random() < _FAILURE else "completed", settled, item, user)
            elif created <= self._now:
                self.transaction(created, "pending", None, item, user)

    def transaction(
        self, created: datetime, status: str, moved: datetime | None, item: int | None = None, user: str | None = None
    ) -> None:
        """A transaction created pending and, unless still pending, moved at `moved`."""
        if item is None:
            item = self._catalogue.pick(self._rng)
        if user is None:
            user = user_id(self._users.pick(self._rng))
        self.transactions.append(
            {
                "id": "",  # numbered in `finish`, once sorted by creation
                "user_id": user,
                "content_id": self._catalogue.content_ids[item],
                "amount": self._catalogue.prices[item],
                "currency": self._currency,
                "status": status,
                "created_at": created,
                "completed_at": moved if status == "completed" else None,
                "status_changed_at": moved,
            }
        )

    def finish(self) -> DemoHistory:
        self.transactions.sort(key=lambda row: row["created_at"])
        for number, row in enumerate(self.transactions, start=1):
            row["id"] = f"demo-t-{number:06d}"
        self.views.sort(key=lambda row: row["viewed_at"])
        self.activity.sort(key=lambda row: row["at"])
        return DemoHistory(transactions=self.transactions, content_views=self.views, user_activity=self.activity)


async def seed_demo_history(
    engine: AsyncEngine,
    now: datetime,
    rng: random.Random,
    days: int = 35,
    *,
    zone: ZoneInfo = _UTC,
    currency: str = "USD",
) -> SeedSummary:
    """Write `days` of history before `now` into a migrated database, only if it holds no events.

    The check and the inserts are one transaction that keeps other writers out (SQLite's write
    lock, PostgreSQL table locks), so demo rows never mix with events that arrive meanwhile.
    """
    conn = await write_connection(engine)
    try:
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("LOCK TABLE transactions, content_views, user_activity IN SHARE ROW EXCLUSIVE MODE")
                )
            if await _holds_events(conn):
                return SeedSummary(transactions=0, content_views=0, user_activity=0)
            history = build_demo_history(now, rng, days, zone=zone, currency=currency)
            for model, rows in (
                (Transaction, history.transactions),
                (ContentView, history.content_views),
                (UserActivity, history.user_activity),
            ):
                if rows:
                    await conn.execute(insert(model.__table__), rows)
    finally:
        await conn.close()
    return SeedSummary(
        transactions=len(history.transactions),
        content_views=len(history.content_views),
        user_activity=len(history.user_activity),
    )


async def _holds_events(conn: AsyncConnection) -> bool:
    for model in (Transaction, ContentView, UserActivity):
        if (await conn.execute(select(literal(1)).select_from(model.__table__).limit(1))).first() is not None:
            return True
    return False


async def _seed(settings: Settings, days: int, seed: int | None) -> SeedSummary:
    engine = create_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        return await seed_demo_history(
            engine, datetime.now(UTC), random.Random(seed), days, zone=settings.zone, currency=settings.currency
        )
    finally:
        await engine.dispose()


def _display(database_url: str) -> str:
    """The URL without its password, fit for a message."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an invalid DATABASE_URL)"


def _days(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 366:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 1 to 366, got {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.demo",
        description=(
            "Seed demo history (transactions, content views, user activity with a daily and weekly "
            "rhythm) straight into the database, so the dashboard shows numbers at once. Writes only "
            "into a database without events; a second run does nothing."
        ),
    )
    parser.add_argument("--days", type=_days, default=35, help="how many days of history, up to now (default: 35)")
    parser.add_argument("--seed", type=int, help="seed of the random history, to repeat it exactly")
    parser.add_argument(
        "--yes-write-demo-data",
        action="store_true",
        help="write even though DATABASE_URL is set: a configured database gets made-up data only when asked",
    )
    return parser


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings or Settings.from_env()
    except ConfigurationError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    where = _display(settings.database_url)
    if not settings.embedded and not args.yes_write_demo_data:
        print(
            f"demo: refusing to write made-up data into the configured database {where} (DATABASE_URL is set); "
            "pass --yes-write-demo-data if that is what you want",
            file=sys.stderr,
        )
        return 2
    try:
        summary = asyncio.run(_seed(settings, args.days, args.seed))
    except ConfigurationError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as exc:
        print(f"demo: cannot reach the database {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if not summary.written:
        print(f"demo: {where} already holds events; nothing written")
        return 0
    print(
        f"demo: wrote {summary.transactions:,} transactions, {summary.content_views:,} content views and "
        f"{summary.user_activity:,} user activity rows ({args.days} days up to now) into {where}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
