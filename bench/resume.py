"""A thousand clients resuming at once: how late are the live pushes to everyone else meanwhile?

    .venv/bin/python -m bench.resume                      # 1000 resumers, 60 missed snapshots each
    .venv/bin/python -m bench.resume --clients 2000 --missed 200

The real sidecar (`python -m server`, bench.wsrig) with a short interval. Twenty observers hold live
sockets and note, for every push, how long after the snapshot's `timestamp` it arrived. First a
quiet baseline, then `--clients` sockets connect at once with `?since=<current - missed>`, from
four client processes (so that the observers' own process stays idle), and each checks that it got
every missed snapshot, in order, before the live ones. The figure that matters: the observers'
push delay during the storm against the interval (issue 16: not more than one interval late).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import websockets

from bench.wsrig import raise_fd_limit, sidecar

OBSERVERS = 20
PROCESSES = 4


def _delay(message: str) -> tuple[int, float] | None:
    update = json.loads(message)
    if update.get("type") != "metrics" or update["data"]["stale"]:
        return None
    computed = datetime.fromisoformat(update["data"]["timestamp"].replace("Z", "+00:00")).timestamp()
    return update["data"]["snapshotId"], time.time() - computed


async def _observe(url: str, seconds: float, when_connected: Callable[[], None] = lambda: None) -> list[float]:
    """Push delays seen by the observers over `seconds`, counted from when all are connected
    (`when_connected` is called then)."""
    delays: list[float] = []
    sockets = [await websockets.connect(url, max_queue=None) for _ in range(OBSERVERS)]
    for ws in sockets:
        await ws.recv()  # the current snapshot, sent on connect: not a push
    when_connected()
    end = time.monotonic() + seconds

    async def one(ws: websockets.ClientConnection) -> None:
        while (left := end - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                return
            found = _delay(str(message))
            if found is not None:
                delays.append(found[1])

    try:
        await asyncio.gather(*(one(ws) for ws in sockets))
    finally:
        for ws in sockets:
            await ws.close()
    return delays


async def _resume_all(url: str, count: int, since: int, until: int) -> list[float]:
    """Each resumer's seconds until it had every snapshot up to `until`; raises on a gap."""

    async def one() -> float:
        started = time.monotonic()
        async with websockets.connect(f"{url}?since={since}", max_queue=None, open_timeout=60) as ws:
            resumed = json.loads(await ws.recv())
            assert resumed == {"type": "resumed", "since": since}, resumed
            expected = since + 1
            while expected <= until:
                update = json.loads(await ws.recv())
                data = update["data"]
                if data["snapshotId"] == expected - 1 and data["stale"]:
                    continue
                assert data["snapshotId"] == expected, (data["snapshotId"], expected)
                expected += 1
            return time.monotonic() - started

    return list(await asyncio.gather(*(one() for _ in range(count))))


def _resumers(url: str, count: int, since: int, until: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(_resume_all(url, count, since, until)))


def _summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<34}{'none arrived':>27}"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"{name:<34}{statistics.median(ordered) * 1000:>9.1f}{p99 * 1000:>9.1f}{ordered[-1] * 1000:>9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--missed", type=int, default=60, help="snapshots each resumer missed")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--observe", type=float, default=15.0, help="seconds the observers watch the storm")
    args = parser.parse_args()
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as scratch, sidecar(Path(scratch), args.interval) as (_, port):
        url = f"ws://127.0.0.1:{port}/ws/metrics"

        def current() -> int:
            return int(httpx.get(f"http://127.0.0.1:{port}/api/v1/analytics/realtime-metrics").json()["snapshotId"])

        while current() < args.missed + 2:
            time.sleep(args.interval)
        baseline = asyncio.run(_observe(url, 10 * args.interval))
        now = current()
        since, until = now - args.missed, now
        out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        share = [args.clients // PROCESSES + (i < args.clients % PROCESSES) for i in range(PROCESSES)]
        workers = [multiprocessing.Process(target=_resumers, args=(url, n, since, until, out)) for n in share if n]
        storm = asyncio.run(_observe(url, args.observe, lambda: [worker.start() for worker in workers] and None))
        finished = [seconds for _ in workers for seconds in out.get(timeout=300)]
        for worker in workers:
            worker.join()
    print(f"{args.clients} clients resume at once, {args.missed} missed snapshots each, interval {args.interval} s")
    print(f"{len(finished)} resumers got every missed snapshot in order\n")
    print(f"{'ms':<34}{'median':>9}{'p99':>9}{'max':>9}")
    print(_summary("push delay, quiet (observers)", baseline))
    print(_summary("push delay, during the resumes", storm))
    print(_summary("a resumer: connect to caught up", finished))
    print(f"\npushes the observers got during the resumes: {len(storm)} ({OBSERVERS} observers, {args.observe:g} s)")
    if storm:
        print(f"worst push delay during the resumes: {max(storm) / args.interval:.2f} intervals (bound: 1)")


if __name__ == "__main__":
    main()
