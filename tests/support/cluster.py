"""Sidecars as separate `python -m server` processes, and sockets that record what each one pushes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.support.faults import free_port

ROOT = Path(__file__).parents[2]


@dataclass
class Instance:
    port: int
    process: subprocess.Popen[bytes]
    log: Path | None = None  # its stderr, when asked for

    def output(self) -> str:
        return self.log.read_text() if self.log is not None else ""

    def figure(self, sample: str) -> float:
        for line in httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text.splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[-1])
        return 0.0

    @property
    def leads(self) -> bool:
        return self.figure("metrics_leader") == 1

    @property
    def computed(self) -> int:
        return int(self.figure('metrics_snapshots_total{outcome="computed"}'))


@dataclass
class Watcher:
    """One direct socket to one instance: every pushed frame, raw, with when it came."""

    port: int
    frames: list[tuple[float, int, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set on every push

    async def run(self) -> None:
        async with connect(f"ws://127.0.0.1:{self.port}/ws/metrics", compression=None) as ws:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "metrics":
                    self.frames.append((time.monotonic(), message["data"]["snapshotId"], str(raw)))
                    self.arrived.set()

    def ids(self, after: float = 0.0) -> list[int]:
        return [i for t, i, _ in self.frames if t >= after]

    def fresh_ids(self, after: float = 0.0) -> list[int]:
        """Ids of the pushes with new numbers (not the stale repeats of the current snapshot)."""
        return [i for t, i, raw in self.frames if t >= after and not json.loads(raw)["data"]["stale"]]


def start_instance(
    url: str, redis_url: str | None, prefix: str, interval: float, *, log: Path | None = None, **extra: str
) -> Instance:
    """`python -m server` on a free port; its stderr goes to `log` (or nowhere)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url or "",
        "METRICS_REDIS_PREFIX": prefix,
        "METRICS_INTERVAL": str(interval),
        "PORT": str(port),
        "METRICS_REQUESTS_PER_SECOND": "10000",
        **extra,
    }
    if log is None:
        process = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    else:
        with log.open("wb") as sink:
            process = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env, stderr=sink)
    return Instance(port, process, log)


async def until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.1)


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False
