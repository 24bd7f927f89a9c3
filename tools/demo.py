"""`python -m tools.demo`: months of demo history, written straight into an empty database.

A newcomer's dashboard should have numbers at once (revenue today, this week and this month,
active users, conversion), and the history pages something to show. The history is the live
simulator's own traffic model (`tools.simulate.demo_profile`: its daily and weekly rhythm, its
prices, conversion and failure episodes) run over the past days, so that live simulated traffic
reads as its continuation: today's revenue by this hour falls among the seeded days'.

Two safeguards, both from the contract: nothing is written into a database that already holds
events (a second run does nothing and says so), and a configured database (DATABASE_URL set)
gets no made-up data unless `--yes-write-demo-data` asks for it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
from tools.catalogue import write_catalogue
from tools.simulate import Catalogue, TrafficModel, demo_profile, user_id

_DEFAULT_DAYS = 120  # enough for "previous 30 days", month-on-month and weekday comparisons
_TICK = timedelta(seconds=30)  # the model's longest step: coarser ticks would skip time
_UTC = ZoneInfo("UTC")
_INSERT_CHUNK = 20_000  # rows per executemany: progress to print, and memory the driver holds at once

Progress = Callable[[str], None]


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
    now: datetime,
    rng: random.Random,
    days: int = _DEFAULT_DAYS,
    *,
    zone: ZoneInfo = _UTC,
    currency: str = "USD",
    progress: Progress | None = None,
) -> DemoHistory:
    """The `days` before `now` (nothing after it) as the live simulator would have sent them: the
    same `TrafficModel` and demo profile, run tick by tick; pure, so a seed repeats it."""
    begin = now - timedelta(days=days)
    model = TrafficModel(rng, begin, demo_profile(zone), run_id="demo")
    rows = _RowCollector(currency)
    moment, next_report = begin, begin + timedelta(days=30)
    while moment < now:
        moment = min(moment + _TICK, now)
        rows.add(model.tick(moment))
        if progress is not None and moment >= next_report:
            progress(f"{(moment - begin) / (now - begin):.0%} of {days} days generated")
            next_report += timedelta(days=30)
    # Nothing is left pending at `now`: no process would ever settle it (the live simulator
    # settles only its own), and a pending count stuck for the whole visit reads as a fault. The
    # few still waiting get their outcome at `now`, as a stopped simulator's do.
    rows.add(model.finish(now))
    # Today's revenue must show even just after local midnight, when the rhythm alone may give none.
    day_start = period_starts(now, zone).day_start
    if now > day_start and not any(
        row["completed_at"] is not None and row["completed_at"] >= day_start for row in rows.transactions.values()
    ):
        created = day_start + (now - day_start) * rng.random()
        rows.completed_today(created, created + (now - created) * rng.random(), rng)
    return rows.finish()


class _RowCollector:
    """The model's events turned into rows as the sidecar would have stored them."""

    def __init__(self, currency: str) -> None:
        self._currency = currency
        self._catalogue = Catalogue()
        self.views: list[dict[str, Any]] = []
        self.activity: list[dict[str, Any]] = []
        self.transactions: dict[str, dict[str, Any]] = {}  # by id, so a settlement finds its row

    def add(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            at = datetime.fromisoformat(event["at"])
            kind = event["type"]
            if kind == "content_view":
                self.views.append({"content_id": event["contentId"], "user_id": event.get("userId"), "viewed_at": at})
            elif kind == "user_activity":
                self.activity.append({"user_id": event["userId"], "at": at})
            elif "amount" in event:
                self._created(event["id"], event["userId"], event["contentId"], Decimal(event["amount"]))
                self._move(self.transactions[event["id"]], event["status"], at, created=True)
            else:  # a settlement names only the transaction
                self._move(self.transactions[event["id"]], event["status"], at, created=False)

    def _created(self, transaction_id: str, user: str, content_id: str, amount: Decimal) -> None:
        self.transactions[transaction_id] = {
            "id": transaction_id,
            "user_id": user,
            "content_id": content_id,
            "amount": amount,
            "currency": self._currency,
        }

    @staticmethod
    def _move(row: dict[str, Any], status: str, at: datetime, *, created: bool) -> None:
        if created:
            row["created_at"] = at
        # As the sidecar stores them: `status_changed_at` is set by a move, not by the creation.
        row["status"] = status
        row["status_changed_at"] = None if created else at
        row["completed_at"] = at if status == "completed" else None

    def _made_up(self, rng: random.Random) -> tuple[str, str, str, Decimal]:
        item = self._catalogue.pick(rng)
        number = len(self.transactions) + 1
        return (
            f"demo-extra-t-{number:06d}",
            user_id(rng.randrange(1000)),
            self._catalogue.content_ids[item],
            (self._catalogue.prices[item]),
        )

    def completed_today(self, created: datetime, completed: datetime, rng: random.Random) -> None:
        transaction_id, user, content_id, amount = self._made_up(rng)
        self._created(transaction_id, user, content_id, amount)
        row = self.transactions[transaction_id]
        self._move(row, "pending", created, created=True)
        self._move(row, "completed", completed, created=False)

    def finish(self) -> DemoHistory:
        transactions = sorted(self.transactions.values(), key=lambda row: row["created_at"])
        self.views.sort(key=lambda row: row["viewed_at"])
        self.activity.sort(key=lambda row: row["at"])
        return DemoHistory(transactions=transactions, content_views=self.views, user_activity=self.activity)


async def seed_demo_history(
    engine: AsyncEngine,
    now: datetime,
    rng: random.Random,
    days: int = _DEFAULT_DAYS,
    *,
    zone: ZoneInfo = _UTC,
    currency: str = "USD",
    progress: Progress | None = None,
) -> SeedSummary:
    """Write `days` of history before `now` into a migrated database, only if it holds no events;
    and the demo catalogue's titles and categories, where the database has a `content` table.

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
            # Seconds of pure Python: in a thread, so the loop (and the driver's own thread) stay free.
            history = await asyncio.to_thread(
                build_demo_history, now, rng, days, zone=zone, currency=currency, progress=progress
            )
            for model, rows in (
                (Transaction, history.transactions),
                (ContentView, history.content_views),
                (UserActivity, history.user_activity),
            ):
                for first in range(0, len(rows), _INSERT_CHUNK):
                    await conn.execute(insert(model.__table__), rows[first : first + _INSERT_CHUNK])
                    if progress is not None:
                        done = min(first + _INSERT_CHUNK, len(rows))
                        progress(f"{model.__tablename__}: {done:,} of {len(rows):,} rows written")
            await write_catalogue(conn)
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


def _say(line: str) -> None:
    print(f"demo: {line}", flush=True)


async def _seed(settings: Settings, days: int, seed: int | None) -> SeedSummary:
    engine = create_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        return await seed_demo_history(
            engine,
            datetime.now(UTC),
            random.Random(seed),
            days,
            zone=settings.zone,
            currency=settings.currency,
            progress=_say,
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
    parser.add_argument(
        "--days",
        type=_days,
        default=_DEFAULT_DAYS,
        help=f"how many days of history, up to now (default: {_DEFAULT_DAYS})",
    )
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
