"""A number that may be old is never shown as live, on any instance and any surface, and a failure
that repeats is noticed, said once, and recovered from by itself.

- three `python -m server` on one PostgreSQL and a Redis of the test's own that stops for several
  intervals under ingest;
- two `python -m server` on one SQLite file;
- a snapshot loop whose database writes fail, then work again (both stacks);
- another deployment's data in a shared Redis;
- a client's invalid UTF-8 frame.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import random
import signal
import time
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from server.settings import Settings
from server.storage.db import create_engine
from tests.conftest import _reset_postgres
from tests.support.cluster import Instance, Watcher, healthy, start_instance, until
from tests.support.faults import own_redis
from tests.support.live import RawPeer, prometheus_value, serve, serving, wait_until

INTERVAL = 1.0
SLACK = 0.3  # scheduling and request time a busy test machine adds to what the server decides


@pytest.fixture
def shared_database(services_problem: str | None, request: pytest.FixtureRequest) -> str:
    if services_problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL fault tests: {services_problem}")
        pytest.skip(services_problem)
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_reset_postgres(url))
    return url


def _age(body: dict[str, Any], at: float) -> float:
    return at - datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).timestamp()


def _stop_all(instances: list[Instance]) -> None:
    for instance in instances:
        if instance.process.poll() is None:
            instance.process.terminate()
    for instance in instances:
        instance.process.wait(timeout=30)


async def _scalar(url: str, query: str) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(query))).scalar_one()
    finally:
        await engine.dispose()


async def test_through_a_redis_outage_every_instance_keeps_pushing_fresh_numbers(
    shared_database: str, tmp_path: Path
) -> None:
    with own_redis() as redis_server:
        prefix = f"test-fresh-{uuid.uuid4().hex[:8]}:"
        instances = [
            start_instance(shared_database, redis_server.url, prefix, INTERVAL, log=tmp_path / f"sidecar-{n}.log")
            for n in range(3)
        ]
        tasks: list[asyncio.Task[None]] = []
        try:
            for instance in instances:
                await until(lambda i=instance: healthy(i.port), 60, f"the instance on {instance.port} is healthy")
            watchers = [Watcher(instance.port) for instance in instances]
            acknowledged: list[str] = []
            served: list[tuple[int, float, dict[str, Any]]] = []  # (instance, received at, REST body)
            leaders: list[float] = []  # sum(metrics_leader) across the instances, sampled
            stop = asyncio.Event()

            async def ingest() -> None:
                rng = random.Random(5)
                async with httpx.AsyncClient(timeout=10) as http:
                    while not stop.is_set():
                        tx = f"t-{len(acknowledged)}-{uuid.uuid4().hex[:6]}"
                        event = {"type": "transaction", "id": tx, "userId": "u", "amount": "1.00"}
                        event["status"] = "completed"
                        port = rng.choice(instances).port
                        answer = await http.post(f"http://127.0.0.1:{port}/api/v1/events", json=event)
                        if answer.status_code == 200:
                            acknowledged.append(tx)
                        await asyncio.sleep(0.05)

            async def read_rest() -> None:
                async with httpx.AsyncClient(timeout=10) as http:
                    while not stop.is_set():
                        for n, instance in enumerate(instances):
                            answer = await http.get(
                                f"http://127.0.0.1:{instance.port}/api/v1/analytics/realtime-metrics"
                            )
                            served.append((n, time.time(), answer.json()))
                        await asyncio.sleep(0.15)

            async def count_leaders() -> None:
                while not stop.is_set():
                    figures = [await asyncio.to_thread(lambda i=i: i.figure("metrics_leader")) for i in instances]
                    leaders.append(sum(figures))
                    await asyncio.sleep(0.5)

            tasks = [asyncio.create_task(w.run()) for w in watchers]
            tasks += [asyncio.create_task(job()) for job in (ingest, read_rest, count_leaders)]
            await asyncio.sleep(3 * INTERVAL)
            redis_server.stop()
            down_at = time.monotonic()
            await asyncio.sleep(6 * INTERVAL)
            redis_server.start()
            up_at = time.monotonic()
            await until(lambda: all(healthy(i.port) for i in instances), 20, "every instance is healthy again")
            await asyncio.sleep(4 * INTERVAL)
            stop.set()
            await asyncio.sleep(3 * INTERVAL)  # the last acknowledged events reach a snapshot
            end = time.monotonic()
            for task in tasks:  # what follows blocks; stop recording before it can delay a frame
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

            for watcher in watchers:
                arrivals = [t for t, _, _ in watcher.frames]
                ids = watcher.ids()
                assert ids == sorted(set(ids)), "every push is newer than the last"
                gaps = [b - a for a, b in itertools.pairwise(arrivals)]
                assert max(gaps) <= 2 * INTERVAL + SLACK, f"a push came {max(gaps):.2f} s after the one before"
                assert any(down_at < t < up_at for t in arrivals), "pushes went on while Redis was away"
                assert arrivals[-1] > end - 2 * INTERVAL
            for n, at, body in served:
                assert body["stale"] is False, f"instance {n} served stale numbers: {body}"
                assert _age(body, at) <= 2 * INTERVAL + SLACK, f"instance {n} served numbers {_age(body, at):.2f} s old"
            # One sequence throughout: the same id is the same bytes on every instance.
            by_id: dict[int, set[str]] = {}
            for watcher in watchers:
                for _, snapshot_id, raw in watcher.frames:
                    by_id.setdefault(snapshot_id, set()).add(raw)
            assert all(len(frames) == 1 for frames in by_id.values()), "two instances pushed different bytes for one id"
            # After Redis is back, every instance pushes the same ids (compared over the ids that all
            # three could have had: one pushed just before a cut-off time may reach another after it).
            after = [{i for t, i, _ in w.frames if up_at + 2 * INTERVAL < t} for w in watchers]
            low, high = max(min(ids) for ids in after), min(max(ids) for ids in after)
            shared = [sorted(i for i in ids if low <= i <= high) for ids in after]
            assert shared[0] == shared[1] == shared[2] == list(range(low, high + 1)) and high - low >= 2
            assert leaders and all(total == 1 for total in leaders), f"sum(metrics_leader) over time: {leaders}"
            relayed_by_database = sum(
                i.figure('metrics_snapshots_received_total{via="database"}') for i in instances if not i.leads
            )
            assert relayed_by_database > 0  # the followers read the log while the relay was down
            # Nothing acknowledged was lost: the database and the last snapshot count every event.
            assert await _scalar(shared_database, "SELECT count(*) FROM transactions") == len(acknowledged) > 20
            last = json.loads(watchers[0].frames[-1][2])["data"]
            assert last["transactions"]["completed"] == len(acknowledged)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            _stop_all(instances)


async def test_two_sidecars_on_one_sqlite_file_serve_one_sequence_and_take_over(tmp_path: Path) -> None:
    """`PORT=3001 ./run.sh` beside a running one: the second serves what the first computes."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = start_instance(url, None, "metrics:", INTERVAL, log=tmp_path / "first.log")
    await until(lambda: healthy(first.port), 60, "the first sidecar is healthy")
    second = start_instance(url, None, "metrics:", INTERVAL, log=tmp_path / "second.log")
    tasks: list[asyncio.Task[None]] = []
    try:
        await until(lambda: healthy(second.port), 60, "the second sidecar is healthy")
        watchers = [Watcher(first.port), Watcher(second.port)]
        tasks = [asyncio.create_task(w.run()) for w in watchers]
        await asyncio.sleep(5 * INTERVAL)
        assert await asyncio.to_thread(lambda: [first.leads, second.leads]) == [True, False]
        assert await asyncio.to_thread(lambda: second.computed) == 0
        ids = [set(w.ids()) for w in watchers]
        assert len(ids[0] & ids[1]) >= 3
        frames = {(i, raw) for w in watchers for _, i, raw in w.frames}
        assert len({i for i, _ in frames}) == len(frames), "the two pushed different bytes for one id"
        for watcher in watchers:
            arrivals = [t for t, _, _ in watcher.frames]
            assert max(b - a for a, b in itertools.pairwise(arrivals)) <= 2 * INTERVAL + SLACK

        killed_at = time.monotonic()
        last_before = max(watchers[1].ids())
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        await asyncio.sleep(4 * INTERVAL)
        took_over = min(t for t, i, _ in watchers[1].frames if i > last_before)
        assert took_over - killed_at <= 2 * INTERVAL + SLACK
        # No id skipped or repeated; while the new holder took over, the last snapshot may have
        # turned two intervals old, and was then pushed again marked stale.
        after = [i for i in watchers[1].fresh_ids() if i >= last_before]
        assert after == list(range(last_before, last_before + len(after)))
        stale = [json.loads(raw)["data"] for t, i, raw in watchers[1].frames if t > killed_at and i == last_before]
        assert all(s["stale"] for s in stale[1:])
        for task in tasks:
            task.cancel()
        assert await asyncio.to_thread(lambda: second.leads)
        url = f"http://127.0.0.1:{second.port}/api/v1/analytics/realtime-metrics"
        body = (await asyncio.to_thread(httpx.get, url)).json()
        assert body["stale"] is False and body["snapshotId"] == max(watchers[1].ids())
        for instance in (first, second):
            assert "Traceback" not in instance.output()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        _stop_all([first, second])


_FAIL_WRITES = {
    "sqlite": [
        "CREATE TRIGGER fault_injected BEFORE INSERT ON snapshot_log BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION fault_injected() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
        "CREATE TRIGGER fault_injected BEFORE INSERT ON snapshot_log FOR EACH ROW EXECUTE FUNCTION fault_injected()",
    ],
}
_HEAL = {
    "sqlite": ["DROP TRIGGER fault_injected"],
    "postgresql": ["DROP TRIGGER fault_injected ON snapshot_log", "DROP FUNCTION fault_injected()"],
}


def _run_sql(url: str, statements: list[str]) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def _dialect(settings: Settings) -> str:
    return "postgresql" if settings.database_url.startswith("postgresql") else "sqlite"


def test_failing_snapshot_writes_are_stale_at_once_said_once_counted_and_recovered_from(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = replace(settings, interval=INTERVAL)
    caplog.set_level(logging.INFO, logger="server")
    with serve(settings) as address:
        base = f"http://{address}"
        rest = lambda: httpx.get(f"{base}/api/v1/analytics/realtime-metrics").json()  # noqa: E731
        wait_until(lambda: rest()["stale"] is False and httpx.get(f"{base}/health").json()["status"] == "ok", 10, "ok")
        before = rest()
        _run_sql(settings.database_url, _FAIL_WRITES[_dialect(settings)])
        broken_at = time.monotonic()
        wait_until(lambda: rest()["stale"] is True, 2 * INTERVAL + SLACK, "the numbers are marked stale")
        assert time.monotonic() - broken_at <= 2 * INTERVAL + SLACK
        stale = rest()
        assert stale["snapshotId"] >= before["snapshotId"] and stale["revenue"] == before["revenue"]
        health = httpx.get(f"{base}/health").json()
        assert health["status"] == "degraded" and health["database"] == "ok"
        assert health["reason"].endswith("the numbers served are stale: the latest refresh from the database failed")
        time.sleep(3 * INTERVAL)  # it goes on failing every interval
        failed = prometheus_value(address, 'metrics_snapshots_total{outcome="failed"}')
        assert failed >= 3
        assert prometheus_value(address, "metrics_snapshot_stale") == 1.0
        said = [r for r in caplog.records if r.name == "server.snapshots" and r.levelno >= logging.ERROR]
        assert len(said) == 1, [r.getMessage() for r in said]  # said once, not every interval
        assert said[0].getMessage().startswith("snapshot refresh failed: ")
        assert "injected fault" in said[0].getMessage()

        _run_sql(settings.database_url, _HEAL[_dialect(settings)])
        wait_until(lambda: rest()["stale"] is False, 2 * INTERVAL + SLACK, "fresh numbers again, by itself")
        assert rest()["snapshotId"] > stale["snapshotId"]
        assert httpx.get(f"{base}/health").json() == {
            "status": "ok",
            "database": "ok",
            "cache": "n/a" if settings.redis_url is None else "ok",
        }
        assert prometheus_value(address, "metrics_snapshot_stale") == 0.0
        recovered = [r.getMessage() for r in caplog.records if "works again" in r.getMessage()]
        assert len(recovered) == 1 and recovered[0].startswith("snapshot refresh works again after ")


def test_a_sidecar_whose_loop_stops_serves_stale_within_two_intervals(settings: Settings) -> None:
    """The leader gone, the relay silent, the loop wedged: whatever the reason, numbers older than
    two intervals are stale on REST, the socket and /health."""
    from websockets.sync.client import connect

    settings = replace(settings, interval=INTERVAL)
    with serving(settings) as served, connect(f"ws://{served.address}/ws/metrics") as ws:
        base = f"http://{served.address}"
        wait_until(lambda: httpx.get(f"{base}/health").json()["status"] == "ok", 10, "healthy")
        served.app.state.snapshots.stop()  # as a wedged or cut-off computing instance would
        time.sleep(0.3)  # a refresh under way when it was told to stop ends
        last = httpx.get(f"{base}/api/v1/analytics/realtime-metrics").json()
        stopped_at = time.time()
        pushes: list[dict[str, Any]] = []
        while not (pushes and pushes[-1]["stale"]):
            message = json.loads(ws.recv(timeout=5))
            if message["type"] == "metrics":
                pushes.append(message["data"])
        assert pushes[-1] == {**last, "stale": True}  # the same snapshot, marked
        assert _age(pushes[-1], time.time()) <= 2 * INTERVAL + 1.0 + SLACK  # marked once it turned stale
        assert time.time() - stopped_at <= 3 * INTERVAL + SLACK
        assert httpx.get(f"{base}/api/v1/analytics/realtime-metrics").json()["stale"] is True
        health = httpx.get(f"{base}/health").json()
        assert health["status"] == "degraded"
        assert "the numbers served are stale: the latest snapshot is" in health["reason"]


def test_a_fresh_database_never_serves_another_deployments_data_from_a_shared_redis(tmp_path: Path) -> None:
    """Two deployments share one Redis and one prefix by mistake; each serves only its own."""
    from websockets.sync.client import connect

    with own_redis() as redis_server:
        old = Settings(
            database_url=f"sqlite:///{tmp_path / 'old.db'}", redis_url=redis_server.url, interval=0.2, embedded=False
        )
        new = replace(old, database_url=f"sqlite:///{tmp_path / 'new.db'}")
        with serve(old) as old_address:
            event = {"type": "transaction", "id": "t-old", "userId": "u", "amount": "99.99", "status": "completed"}
            assert httpx.post(f"http://{old_address}/api/v1/events", json=event).status_code == 200
            wait_until(lambda: _rest(old_address)["revenue"]["total"] == 99.99, 5, "the old deployment counts it")
            # The new deployment starts while the old one still publishes under the same prefix.
            with serve(new) as new_address, connect(f"ws://{new_address}/ws/metrics") as ws:
                seen = []
                for _ in range(15):
                    message = json.loads(ws.recv(timeout=5))
                    if message["type"] == "metrics":
                        seen.append(message["data"])
                ws.send('{"type":"history"}')
                while (message := json.loads(ws.recv(timeout=5)))["type"] != "history":
                    pass
                assert all(s["revenue"]["total"] == 0 for s in [*seen, *message["data"]])
                assert _rest(new_address)["revenue"]["total"] == 0
        assert len(redis_server.client().keys(old.redis_prefix + "*:history")) == 2  # one per deployment


def _rest(address: str) -> dict[str, Any]:
    return httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").json()


def test_an_invalid_utf8_frame_is_closed_with_1007_and_logged_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", interval=0.5, embedded=False)
    with serve(settings) as address:
        peer = RawPeer(address)
        assert peer.status == 101
        peer.send_bytes_frame(0x81, b"\xff\xfe not utf-8")
        assert peer.close_code(timeout=5) == 1007
        wait_until(lambda: any("UTF-8" in r.getMessage() for r in caplog.records), 5, "it is logged")
    about = [r for r in caplog.records if "UTF-8" in r.getMessage()]
    assert len(about) == 1 and about[0].levelno == logging.WARNING and about[0].exc_info is None
    assert not [r for r in caplog.records if r.exc_info is not None or r.exc_text]
