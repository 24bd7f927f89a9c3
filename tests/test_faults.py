"""Faults against real services: Redis of the test's own stopping or failing silently, and a storm
of concurrent duplicates."""

from __future__ import annotations

import json
import os
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from server.settings import Settings
from tests.support.faults import own_postgres, own_redis, postgres_binaries
from tests.support.live import serve, wait_until

needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None and not os.environ.get("CI"),
    reason="redis-server is not installed (the fault tests start their own)",
)


def _settings(tmp_path: Path, redis_url: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'faults.db'}", redis_url=redis_url, interval=0.2, embedded=False
    )


@needs_redis_server
def test_health_says_degraded_while_pub_sub_stops_delivering_though_commands_work(tmp_path: Path) -> None:
    with own_redis() as redis_server, serve(_settings(tmp_path, redis_server.url)) as address:
        health = lambda: httpx.get(f"http://{address}/health").json()  # noqa: E731
        wait_until(lambda: health()["cache"] == "ok", 10, "healthy at first")
        # The user loses its channels: subscribers are cut off, commands keep working.
        redis_server.client().execute_command("ACL", "SETUSER", "default", "resetchannels")
        wait_until(lambda: health()["status"] == "degraded", 15, "degraded")
        assert health() == {
            "status": "degraded",
            "database": "ok",
            "cache": "down",
            "reason": "Redis carries no snapshots; they are relayed through the database",
        }
        assert redis_server.client().ping()
        redis_server.client().execute_command("ACL", "SETUSER", "default", "allchannels")
        wait_until(lambda: health() == {"status": "ok", "database": "ok", "cache": "ok"}, 15, "healthy again")


@needs_redis_server
def test_redis_stopping_never_stops_ingest_or_snapshots_and_it_recovers(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "")
    with own_redis() as redis_server:
        settings = replace(settings, redis_url=redis_server.url)
        with serve(settings) as address, connect(f"ws://{address}/ws/metrics") as ws:
            base = f"http://{address}"

            def post(i: int) -> int:
                event = {"type": "transaction", "id": f"t-{i}", "userId": "u", "amount": "1.00", "status": "completed"}
                return httpx.post(f"{base}/api/v1/events", json=event).status_code

            assert post(0) == 200
            redis_server.stop()
            wait_until(lambda: httpx.get(f"{base}/health").json()["status"] == "degraded", 10, "degraded")
            # The database is the source of truth: ingest goes on, snapshots keep coming.
            assert [post(i) for i in range(1, 6)] == [200] * 5
            wait_until(lambda: _latest(ws)["transactions"]["completed"] == 6, 10, "snapshots without Redis")
            redis_server.start()  # empty: it kept nothing on disk
            wait_until(lambda: httpx.get(f"{base}/health").json()["status"] == "ok", 15, "healthy again")
            # Within an interval or two the next snapshot is cached and relayed again.
            cache = redis_server.client()
            keys = lambda: cache.keys(settings.redis_prefix + "*:snapshot")  # noqa: E731 - prefix, deployment id
            wait_until(lambda: len(keys()) == 1, 2, "the cache refilled")
            cached = json.loads(cache.get(keys()[0]))
            assert cached["transactions"]["completed"] == 6 and cached["revenue"]["total"] == 6.0
            after = _latest(ws)["snapshotId"]
            assert _latest(ws)["snapshotId"] == after + 1  # pushes go on, one per snapshot


def _latest(ws: object) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=5))  # type: ignore[attr-defined]
        if message["type"] == "metrics":
            return message["data"]


def test_a_storm_of_concurrent_duplicates_counts_each_event_once(settings: Settings) -> None:
    """10% of the batches are sent twice at the same moment from other threads; nothing is
    counted twice and revenue stays exact to the cent."""
    rng = random.Random(11)
    batches = []
    for b in range(40):
        batch = []
        for i in range(25):
            n = b * 25 + i
            amount = f"{rng.randrange(1, 100_000) / 100:.2f}"
            batch.append(
                {"type": "transaction", "id": f"t-{n}", "userId": f"u-{n % 7}", "amount": amount, "status": "pending"}
            )
            batch.append({"type": "transaction", "id": f"t-{n}", "status": rng.choice(["completed", "failed"])})
            batch.append({"type": "content_view", "contentId": "c", "userId": f"u-{n % 7}", "eventId": f"v-{n}"})
        batches.append(batch)
    resent = set(rng.sample(range(len(batches)), 4))
    sends = [b for i in range(len(batches)) for b in ([batches[i]] * (2 if i in resent else 1))]
    with serve(replace(settings, requests_per_second=1000)) as address, ThreadPoolExecutor(max_workers=8) as pool:

        def post(batch: list[dict]) -> dict:
            for _ in range(20):  # a 409 from a lost race on the same ids is retried, as a client would
                answer = httpx.post(f"http://{address}/api/v1/events", json={"events": batch}, timeout=30)
                if answer.status_code == 200:
                    return answer.json()
            raise AssertionError(answer.text)

        answers = list(pool.map(post, sends))
        assert sum(a["accepted"] for a in answers) == 40 * 25 * 3
        assert sum(a["duplicates"] for a in answers) == 4 * 25 * 3
        expected_completed = [e for batch in batches for e in batch if e.get("status") == "completed"]
        revenue = sum(
            Decimal(first["amount"])
            for batch in batches
            for first, second in zip(batch[0::3], batch[1::3], strict=True)
            if second["status"] == "completed"
        )
        wait_until(
            lambda: _rest(address)["transactions"]["completed"] == len(expected_completed), 10, "the next snapshot"
        )
        body = json.loads(httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").text, parse_float=Decimal)
        assert body["revenue"]["total"] == revenue
        assert body["transactions"]["total"] == 1000 and body["content"]["totalViews"] == 1000


def _rest(address: str) -> dict:
    return httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").json()


needs_own_postgres = pytest.mark.skipif(
    (postgres_binaries() is None or os.geteuid() != 0) and not os.environ.get("CI"),
    reason="starting a PostgreSQL of the test's own needs its binaries and root (to run it as postgres)",
)


@needs_own_postgres
def test_the_database_going_away_answers_503_keeps_stale_numbers_and_recovers_exactly_once() -> None:
    with own_postgres() as database:
        settings = Settings(database_url=database.url, interval=0.2, embedded=False)
        with serve(settings) as address, connect(f"ws://{address}/ws/metrics") as ws:
            base = f"http://{address}"
            batch = {"events": [
                {"type": "transaction", "id": f"t-{i}", "userId": "u", "amount": "2.50", "status": "completed"}
                for i in range(10)
            ]}  # fmt: skip
            assert httpx.post(f"{base}/api/v1/events", json={"type": "user_activity", "userId": "u"}).status_code == 200
            wait_until(lambda: _latest(ws)["activeUsers"]["current"] == 1, 10, "the first event shows")
            database.stop()
            refused = httpx.post(f"{base}/api/v1/events", json=batch, timeout=30)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
            assert refused.json()["error"]["code"] == "unavailable"
            assert httpx.get(f"{base}/health", timeout=30).status_code == 503
            seen: list[dict] = []
            wait_until(lambda: seen.append(_latest(ws)) or seen[-1]["stale"], 10, "sockets get the numbers as stale")
            assert seen[-1]["activeUsers"]["current"] == 1  # the last good numbers
            database.start()
            wait_until(lambda: httpx.get(f"{base}/health").status_code == 200, 30, "the database is back")
            # the client retries: stored exactly once; no request fails on a dead pooled connection
            answers = [httpx.post(f"{base}/api/v1/events", json=batch).json() for _ in range(3)]
            assert answers == [{"accepted": 10, "duplicates": 0}] + [{"accepted": 0, "duplicates": 10}] * 2
            wait_until(lambda: _latest(ws)["transactions"]["completed"] == 10, 10, "fresh numbers again")
            fresh = _latest(ws)
            assert fresh["stale"] is False and fresh["revenue"]["total"] == 25.0
