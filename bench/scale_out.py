"""Scale-out: total deliveries as sidecar instances are added, on one PostgreSQL and one Redis.

    .venv/bin/python -m bench.scale_out          # 1, 2, 3 instances x 1,000 clients, 20 s windows (~3 min)
    .venv/bin/python -m bench.scale_out --full   # 1, 2, 3 instances x 3,000 clients, 40 s windows

For each instance count it starts that many `python -m server` processes (METRICS_INTERVAL=1) on a
fresh PostgreSQL database and one Redis prefix, puts the same number of WebSocket clients on each
(bench/wsclients.py processes), and measures one window on all of them at once. It prints, beside
the one-instance baseline:
  - deliveries per second over all instances, and their ratio to one instance;
  - snapshots computed per interval over all instances (the database is read once per interval,
    whatever the number), and whether every instance pushed the same snapshot ids;
  - p99 delivery latency (receipt minus the first receipt of the same push anywhere) and each
    instance's CPU per delivered message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.wsrig import (
    Run,
    _seed_events,
    _stop,
    _wait_listening,
    free_port,
    load,
    quantile,
    raise_fd_limit,
    server_env,
)
from server.storage.db import create_database, create_engine, drop_database

BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
INTERVAL = 1.0


async def _computed_between(url: str, first: int, last: int) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = text("SELECT count(*) FROM snapshot_log WHERE snapshot_id BETWEEN :a AND :b")
            return int((await conn.execute(query, {"a": first, "b": last})).scalar_one())
    finally:
        await engine.dispose()


@contextmanager
def _instance(workdir: Path, url: str, prefix: str) -> Iterator[tuple[int, int]]:
    """One `python -m server` on the shared database and Redis prefix; yields (pid, port)."""
    port = free_port()
    env = server_env(
        port,
        DATABASE_URL=url,
        REDIS_URL=REDIS_URL,
        METRICS_REDIS_PREFIX=prefix,
        METRICS_INTERVAL=str(INTERVAL),
    )
    with (workdir / f"sidecar-{port}.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "server"], cwd=workdir, env=env, stdout=log, stderr=log)
    try:
        _wait_listening(port, process, "a sidecar instance")
        yield process.pid, port
    finally:
        _stop(process)


def _measure(count: int, clients: int, seconds: float, workdir: Path, url: str) -> dict[str, float]:
    prefix = f"bench-scale-{uuid.uuid4().hex[:8]}:"
    with ExitStack() as stack:
        instances = [stack.enter_context(_instance(workdir, url, prefix)) for _ in range(count)]
        with httpx.Client(base_url=f"http://127.0.0.1:{instances[0][1]}", timeout=30) as http:
            http.post("/api/v1/events", json={"events": _seed_events()}).raise_for_status()
        time.sleep(2 * INTERVAL)
        runs: list[Run | BaseException] = [RuntimeError("not run")] * count

        def run_one(index: int) -> None:
            pid, port = instances[index]
            results = workdir / f"results-{count}-{index}"
            results.mkdir(exist_ok=True)
            try:
                runs[index] = load(pid, port, clients, max(1, clients // 2500), seconds, results)
            except BaseException as exc:
                runs[index] = exc

        threads = [threading.Thread(target=run_one, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    done = [r for r in runs if isinstance(r, Run)]
    if len(done) != count:
        raise RuntimeError(f"a load failed: {[r for r in runs if not isinstance(r, Run)]}")
    ids = [set(run.receipts) for run in done]
    common = set.intersection(*ids)
    first, last = min(common), max(common)
    computed = asyncio.run(_computed_between(url, first, last))
    spread = sorted(x for run in done for offsets in run.receipts.values() for x in (o - min(offsets) for o in offsets))
    return {
        "instances": count,
        "clients": sum(run.clients for run in done),
        "delivered": sum(run.delivered for run in done),
        "expected": sum(run.expected for run in done),
        "per_second": sum(run.delivered for run in done) / seconds,
        "computed_per_interval": computed / (last - first + 1),
        # Every instance pushed every snapshot of the common range (the leader's, relayed by Redis).
        "same_ids": float(all(set(range(first, last + 1)) <= i for i in ids)),
        "p99_ms": 1000 * quantile(spread, 0.99),
        "cpu_us": max(1e6 * run.server_cpu / max(1, run.delivered) for run in done),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="3,000 clients per instance, 40 s windows")
    args = parser.parse_args()
    clients, seconds = (3000, 40.0) if args.full else (1000, 20.0)
    raise_fd_limit()
    name = f"metrics_bench_scale_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(create_database(BASE_URL, name))
    print(f"{clients:,} clients per instance, {seconds:g} s windows, METRICS_INTERVAL={INTERVAL:g}, database {name}")
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            for count in (1, 2, 3):
                rows.append(_measure(count, clients, seconds, Path(tmp), url))
                row = rows[-1]
                print(
                    f"  {count} instance(s): {row['delivered']:,.0f} of {row['expected']:,.0f} deliveries,"
                    f" {row['computed_per_interval']:.2f} computed per interval",
                    flush=True,
                )
    finally:
        asyncio.run(drop_database(BASE_URL, name))
    base = rows[0]["per_second"]
    ratios = [row["per_second"] / base for row in rows]
    print()
    print(
        "| instances | clients | deliveries/s | vs 1 instance | computed per interval | same ids everywhere |"
        " p99 since first receipt | worst CPU per message |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row, ratio in zip(rows, ratios, strict=True):
        print(
            f"| {row['instances']:.0f} | {row['clients']:,.0f} | {row['per_second']:,.0f} | ×{ratio:.2f}"
            f" | {row['computed_per_interval']:.2f} | {'yes' if row['same_ids'] else 'NO'} | {row['p99_ms']:,.0f} ms"
            f" | {row['cpu_us']:.1f} µs |"
        )
    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
