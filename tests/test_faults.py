"""Faults against real services of the test's own: Redis stopping, pub/sub failing silently."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from server.settings import Settings
from tests.faults import own_redis
from tests.live import serve, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None and not os.environ.get("CI"),
    reason="redis-server is not installed (the fault tests start their own)",
)


def _settings(tmp_path: Path, redis_url: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'faults.db'}", redis_url=redis_url, interval=0.2, embedded=False
    )


def test_health_says_degraded_while_pub_sub_stops_delivering_though_commands_work(tmp_path: Path) -> None:
    with own_redis() as redis_server, serve(_settings(tmp_path, redis_server.url)) as address:
        health = lambda: httpx.get(f"http://{address}/health").json()  # noqa: E731
        wait_until(lambda: health()["cache"] == "ok", 10, "healthy at first")
        # The user loses its channels: subscribers are cut off, commands keep working.
        redis_server.client().execute_command("ACL", "SETUSER", "default", "resetchannels")
        wait_until(lambda: health() == {"status": "degraded", "database": "ok", "cache": "down"}, 15, "degraded")
        assert redis_server.client().ping()
        redis_server.client().execute_command("ACL", "SETUSER", "default", "allchannels")
        wait_until(lambda: health() == {"status": "ok", "database": "ok", "cache": "ok"}, 15, "healthy again")


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
            wait_until(lambda: cache.get(settings.redis_prefix + "snapshot") is not None, 2, "the cache refilled")
            cached = json.loads(cache.get(settings.redis_prefix + "snapshot"))
            assert cached["transactions"]["completed"] == 6 and cached["revenue"]["total"] == 6.0
            after = _latest(ws)["snapshotId"]
            assert _latest(ws)["snapshotId"] == after + 1  # pushes go on, one per snapshot


def _latest(ws: object) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=5))  # type: ignore[attr-defined]
        if message["type"] == "metrics":
            return message["data"]
