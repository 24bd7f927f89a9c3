"""Stopping the sidecar: SIGTERM under load loses nothing acknowledged and says goodbye (1001);
after SIGKILL a restart rebuilds every number from the database."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.faults import free_port
from tests.support.live import wait_until

ROOT = Path(__file__).parents[1]


@contextmanager
def sidecar(database: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m server` as the README runs it, on the embedded SQLite file given."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "PORT": str(port),
        "METRICS_INTERVAL": "0.2",
        "REDIS_URL": "",
        "METRICS_REQUESTS_PER_SECOND": "10000",
    }
    process = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _healthy(port), 30, "the sidecar answers")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Load:
    """Threads posting batches of new transactions, remembering what was acknowledged."""

    def __init__(self, port: int, threads: int = 3) -> None:
        self.url = f"http://127.0.0.1:{port}/api/v1/events"
        self.acknowledged: list[str] = []
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._threads = [threading.Thread(target=self._run, args=(k,)) for k in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, worker: int) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                ids = [f"w{worker}-{next(self._counter)}" for _ in range(20)]
                events = [
                    {"type": "transaction", "id": i, "userId": "u", "amount": "1.25", "status": "completed"}
                    for i in ids
                ]
                try:
                    answer = client.post(self.url, json={"events": events})
                except httpx.HTTPError:
                    return  # the sidecar has gone
                if answer.status_code != 200:
                    return
                with self._lock:
                    self.acknowledged.extend(ids)


def _stored(database: Path) -> tuple[set[str], Decimal]:
    with sqlite3.connect(database) as db:
        ids = {row[0] for row in db.execute("SELECT id FROM transactions")}
        cents = db.execute(
            "SELECT coalesce(sum(CAST(round(amount * 100) AS INTEGER)), 0) FROM transactions WHERE status = 'completed'"
        ).fetchone()[0]
    return ids, Decimal(cents) / 100


def test_sigterm_under_load_closes_sockets_with_1001_and_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    database, port = tmp_path / "metrics.db", free_port()
    with sidecar(database, port) as process, connect(f"ws://127.0.0.1:{port}/ws/metrics") as ws:
        ws.recv(timeout=5)
        with Load(port) as load:
            wait_until(lambda: len(load.acknowledged) >= 200, 20, "some events are acknowledged")
            process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        # After its graceful shutdown uvicorn re-raises the signal, so the exit is "killed by SIGTERM".
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    stored, _ = _stored(database)
    assert set(load.acknowledged) <= stored


def test_after_sigkill_a_restart_rebuilds_every_number_from_the_database(tmp_path: Path) -> None:
    database, port = tmp_path / "metrics.db", free_port()
    with sidecar(database, port) as process:
        with Load(port) as load:
            wait_until(lambda: len(load.acknowledged) >= 200, 20, "some events are acknowledged")
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    stored, revenue = _stored(database)
    assert set(load.acknowledged) <= stored
    with sidecar(database, port):
        body = httpx.get(f"http://127.0.0.1:{port}/api/v1/analytics/realtime-metrics").text
    snapshot = json.loads(body, parse_float=Decimal)
    assert snapshot["transactions"]["completed"] == len(stored)
    assert snapshot["revenue"]["total"] == revenue == Decimal("1.25") * len(stored)
