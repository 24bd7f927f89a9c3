"""Demo history: a newcomer's numbers at once, written only into an empty database, and never
into a configured one unless asked.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.metrics import MetricInputs, period_starts
from server.settings import Settings
from server.storage.db import create_engine
from server.storage.migrate import upgrade_to_head
from server.storage.models import ContentView, Transaction, UserActivity
from server.storage.queries import read_metric_inputs
from tools.catalogue import demo_catalogue, write_catalogue
from tools.demo import SeedSummary, main, seed_demo_history

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)  # a Wednesday afternoon


async def _counts(engine: AsyncEngine) -> SeedSummary:
    async with engine.connect() as conn:
        return SeedSummary(
            transactions=(await conn.execute(select(func.count()).select_from(Transaction))).scalar_one(),
            content_views=(await conn.execute(select(func.count()).select_from(ContentView))).scalar_one(),
            user_activity=(await conn.execute(select(func.count()).select_from(UserActivity))).scalar_one(),
        )


async def _metrics(engine: AsyncEngine, now: datetime, zone: ZoneInfo) -> MetricInputs:
    async with engine.connect() as conn:
        return await read_metric_inputs(conn, period_starts(now, zone), now, zone)


async def test_seeding_gives_revenue_today_this_week_and_this_month(engine: AsyncEngine) -> None:
    summary = await seed_demo_history(engine, NOW, random.Random(1))

    assert summary == await _counts(engine)
    # 120 days of a small platform: about 100 purchases and 1,300 views a day.
    assert 8_000 <= summary.transactions <= 16_000
    assert 100_000 <= summary.content_views <= 250_000
    assert summary.user_activity >= 20_000
    metrics = await _metrics(engine, NOW, ZoneInfo("UTC"))
    assert 0 < metrics.revenue_today_cents < metrics.revenue_week_cents < metrics.revenue_month_cents
    assert metrics.revenue_month_cents < metrics.revenue_total_cents
    assert metrics.pending + metrics.completed + metrics.failed == summary.transactions
    # About 1 % fail outside failure episodes, 60 % of those created during one: 7-13 % in all.
    assert 0.07 <= metrics.failed / summary.transactions <= 0.13
    assert metrics.failed > 0 and metrics.pending == 0  # none left for no one to settle
    assert 5 <= metrics.completed / metrics.total_views * 100 <= 9  # conversion, in percent (8 % of views buy)
    assert metrics.active_today > 0
    async with engine.connect() as conn:
        first_view = (await conn.execute(select(func.min(ContentView.viewed_at)))).scalar_one()
    assert NOW - timedelta(days=120) <= first_view < NOW - timedelta(days=119)  # 120 days, the default


async def test_the_history_lies_in_the_days_before_now_as_the_sidecar_would_store_it(engine: AsyncEngine) -> None:
    await seed_demo_history(engine, NOW, random.Random(2), days=35)
    begin = NOW - timedelta(days=35)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(Transaction.__table__))).all()
        views = (await conn.execute(select(func.min(ContentView.viewed_at), func.max(ContentView.viewed_at)))).one()
        activity = (await conn.execute(select(func.min(UserActivity.at), func.max(UserActivity.at)))).one()
    assert begin <= views[0] and views[1] <= NOW and views[1] - views[0] > timedelta(days=34)
    assert begin <= activity[0] and activity[1] <= NOW
    for row in rows:
        assert row.id.startswith(("sim-demo-t-", "demo-extra-t-")) and row.currency == "USD" and row.amount > 0
        assert begin <= row.created_at <= NOW
        # Created settled, or moved later by a settlement, which sets `status_changed_at`.
        if row.status == "completed":
            assert row.created_at <= row.completed_at <= NOW
            assert row.status_changed_at in (None, row.completed_at)
            assert (row.status_changed_at is None) == (row.completed_at == row.created_at)
        elif row.status == "failed":
            assert row.completed_at is None
            assert row.status_changed_at is None or row.created_at < row.status_changed_at <= NOW
        else:
            raise AssertionError(f"{row.id} is left pending, and nothing would ever settle it")


async def test_a_second_seed_writes_nothing(engine: AsyncEngine) -> None:
    first = await seed_demo_history(engine, NOW, random.Random(1), days=3)
    assert first.written
    second = await seed_demo_history(engine, NOW + timedelta(hours=1), random.Random(2), days=3)
    assert second == SeedSummary(transactions=0, content_views=0, user_activity=0) and not second.written
    assert await _counts(engine) == first


async def test_any_event_in_the_database_keeps_the_demo_out(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(UserActivity.__table__.insert().values(user_id="real-user", at=NOW))
    summary = await seed_demo_history(engine, NOW, random.Random(1), days=3)
    assert not summary.written
    assert await _counts(engine) == SeedSummary(transactions=0, content_views=0, user_activity=1)


async def test_today_has_revenue_even_just_after_local_midnight(engine: AsyncEngine) -> None:
    zone = ZoneInfo("America/New_York")
    just_after_midnight = datetime(2026, 3, 18, 0, 0, 30, tzinfo=zone).astimezone(UTC)
    await seed_demo_history(engine, just_after_midnight, random.Random(4), days=2, zone=zone)
    metrics = await _metrics(engine, just_after_midnight, zone)
    assert 0 < metrics.revenue_today_cents < metrics.revenue_week_cents


def test_main_refuses_a_configured_database_without_the_flag(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not settings.embedded  # DATABASE_URL set, as in the test settings
    assert main(["--days", "2"], settings=settings) == 2
    err = capsys.readouterr().err
    assert "refusing" in err and "--yes-write-demo-data" in err
    assert asyncio.run(_counts_of(settings)) == SeedSummary(transactions=0, content_views=0, user_activity=0)


def test_main_with_the_flag_seeds_once(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--days", "2", "--seed", "5", "--yes-write-demo-data"], settings=settings) == 0
    assert "demo: wrote" in capsys.readouterr().out
    written = asyncio.run(_counts_of(settings))
    assert written.transactions > 0 and written.content_views > 0 and written.user_activity > 0
    assert main(["--days", "2", "--yes-write-demo-data"], settings=settings) == 0
    assert "already holds events; nothing written" in capsys.readouterr().out
    assert asyncio.run(_counts_of(settings)) == written


def test_main_writes_on_the_embedded_default_without_asking(settings: Settings) -> None:
    embedded = replace(settings, embedded=True)
    assert main(["--days", "1", "--seed", "5"], settings=embedded) == 0
    assert asyncio.run(_counts_of(settings)).written


async def _counts_of(settings: Settings) -> SeedSummary:
    engine = create_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        return await _counts(engine)
    finally:
        await engine.dispose()


async def test_the_catalogue_goes_into_a_content_table_only_where_there_is_one(engine: AsyncEngine) -> None:
    catalogue = demo_catalogue()
    assert len(catalogue) == 500 and len({title for _, title, _ in catalogue}) == 500
    assert catalogue[0][0] == "content-0001" and catalogue == demo_catalogue()
    async with engine.begin() as conn:
        made_here = not await conn.run_sync(lambda sync: inspect(sync).has_table("content"))
        if made_here:  # a schema from before the catalogue: nothing to write into, and no error
            assert await write_catalogue(conn) == 0
            await conn.execute(text("CREATE TABLE content (id TEXT PRIMARY KEY, title TEXT, category TEXT)"))
        try:
            assert await write_catalogue(conn) == 500
            assert await write_catalogue(conn) == 0  # the platform's own (here: the first) titles win
            rows = (await conn.execute(text("SELECT id, title, category FROM content ORDER BY id"))).all()
            assert [tuple(row) for row in rows] == sorted(catalogue)
        finally:
            if made_here:
                await conn.execute(text("DROP TABLE content"))
