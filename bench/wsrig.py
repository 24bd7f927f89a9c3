"""What the WebSocket benchmarks share: the two servers, the client processes, CPU from /proc.

- `sidecar(...)`: the real sidecar, `python -m server`, on a SQLite file of its own with some
  realistic numbers in it, configured only through its environment.
- `node_baseline(...)`: bench/node/server.js (Node `ws`, stringifying per client), pushing the
  sidecar's own snapshot; `npm ci` runs first when bench/node/node_modules is missing.
- `load(...)`: client processes (bench/wsclients.py) holding the sockets, and what they measured.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "node"
TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> None:
    """Children inherit it: the servers hold one descriptor per socket."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _seed_events() -> list[dict[str, object]]:
    """A few hundred events, so that the snapshot carries numbers of a realistic width."""
    events: list[dict[str, object]] = []
    for i in range(400):
        status = "completed" if i % 20 else ("pending" if i % 40 else "failed")
        events.append(
            {
                "type": "transaction",
                "id": f"bench-t{i}",
                "userId": f"u{i % 137}",
                "contentId": f"c{i % 23}",
                "amount": f"{(i * 7919) % 30000 + 99}.{i % 100:02d}",
                "status": status,
            }
        )
    events += [{"type": "content_view", "contentId": f"c{i % 23}", "userId": f"u{i % 211}"} for i in range(500)]
    events += [{"type": "user_activity", "userId": f"u{i}"} for i in range(100)]
    return events


def server_env(port: int, **settings: str) -> dict[str, str]:
    """The environment of a benchmark's `python -m server` on `port`: none of the caller's own
    settings, socket and request limits raised for the load, plus `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("METRICS_", "REDIS_", "DATABASE_")) and key not in ("HOST", "PORT")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        METRICS_SOCKETS_PER_ADDRESS="100000",
        METRICS_CONNECTIONS_PER_ADDRESS="100000",
        METRICS_REQUESTS_PER_SECOND="10000",
        HOST="127.0.0.1",
        PORT=str(port),
        **settings,
    )
    return env


@contextmanager
def sidecar(workdir: Path, interval: float) -> Iterator[tuple[int, int]]:
    """The real sidecar on a fresh SQLite file; yields (pid, port)."""
    port = free_port()
    database = workdir / "fanout.db"
    database.unlink(missing_ok=True)
    env = server_env(port, DATABASE_URL=f"sqlite:///{database}", METRICS_INTERVAL=str(interval))
    # Run outside the project folder, so that no .env there configures it.
    with (workdir / "sidecar.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "server"], cwd=workdir, env=env, stdout=log, stderr=log)
    try:
        _wait_listening(port, process, "the sidecar")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            http.post("/api/v1/events", json={"events": _seed_events()}).raise_for_status()
        time.sleep(interval + 0.5)  # a snapshot with these numbers
        yield process.pid, port
    finally:
        _stop(process)


def snapshot_of(port: int) -> bytes:
    return httpx.get(f"http://127.0.0.1:{port}/api/v1/analytics/realtime-metrics", timeout=30).content


@contextmanager
def node_baseline(workdir: Path, payload: bytes, interval: float, heartbeat: float = 0.0) -> Iterator[tuple[int, int]]:
    """bench/node/server.js pushing `payload` (the sidecar's snapshot); yields (pid, port).

    With `heartbeat` (seconds), it pings every client that often and terminates one whose pong
    did not come back by the next round (ws's README pattern): dead-peer detection, as the sidecar.
    """
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed; the baseline needs Node 20")
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    port = free_port()
    payload_file = workdir / "payload.json"
    payload_file.write_bytes(payload)
    env = {**os.environ, "PORT": str(port), "PAYLOAD_FILE": str(payload_file), "INTERVAL_MS": str(int(interval * 1000))}
    env["HEARTBEAT_MS"] = str(int(heartbeat * 1000))
    with (workdir / "node.log").open("wb") as log:
        process = subprocess.Popen([node, "server.js"], cwd=NODE_DIR, env=env, stdout=log, stderr=log)
    try:
        _wait_listening(port, process, "the Node baseline")
        yield process.pid, port
    finally:
        _stop(process)


@dataclass
class Run:
    """One server under one client load over one window."""

    clients: int = 0
    still_open: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    frame_bytes: int = 0
    # snapshotId -> receipt minus the push's timestamp, on every client that received it
    receipts: dict[int, list[float]] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        return sum(len(offsets) for offsets in self.receipts.values())

    @property
    def expected(self) -> int:
        """Pushes from the first to the last id seen in the window, times the clients."""
        return (max(self.receipts) - min(self.receipts) + 1) * self.clients if self.receipts else 0

    def since_timestamp(self) -> list[float]:
        """Receipt minus the `timestamp` in the payload, for every delivery."""
        return sorted(x for offsets in self.receipts.values() for x in offsets)

    def since_first_receipt(self) -> list[float]:
        """Receipt minus the first receipt of the same push by any client (one clock on loopback)."""
        spread: list[float] = []
        for offsets in self.receipts.values():
            first = min(offsets)
            spread += (x - first for x in offsets)
        return sorted(spread)


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def load(
    server_pid: int,
    port: int,
    clients: int,
    processes: int,
    seconds: float,
    results: Path,
    settle: float = 3.0,
    profile: Path | None = None,
) -> Run:
    """Connect `clients` sockets from `processes` processes, then measure a window of `seconds`.

    The client processes leave their results in the `results` folder. With `profile`, py-spy
    samples the server over the window into that file (collapsed stacks; only samples holding
    the GIL, i.e. running Python, not waiting; without pausing it, which would cost it CPU).
    """
    shares = [clients // processes + (1 if k < clients % processes else 0) for k in range(processes)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.wsclients",
                "--port",
                str(port),
                "--count",
                str(n),
                "--source",
                f"127.0.0.{10 + k}",
                "--out",
                str(results / f"clients-{k}.json"),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k, n in enumerate(shares)
    ]
    try:
        connected = 0
        for worker in workers:
            assert worker.stdout is not None
            _, ok, failed = worker.stdout.readline().split()
            connected += int(ok)
            if int(failed):
                print(f"  warning: {failed} sockets of one client process failed to connect", file=sys.stderr)
        time.sleep(settle)  # the handshakes' work is over before the window opens
        start = time.time() + 0.5
        end = start + seconds
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"window {start} {end}\n")
            worker.stdin.flush()
        time.sleep(max(0.0, start - time.time()))
        spy = None
        if profile is not None:
            spy = subprocess.Popen(
                [
                    *(str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server_pid)),
                    *("--format", "raw", "--duration", str(int(seconds)), "--rate", "200", "--gil", "--nonblocking"),
                    *("--output", str(profile)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        server0 = cpu_seconds(server_pid)
        clients0 = sum(cpu_seconds(w.pid) for w in workers)
        time.sleep(max(0.0, end - time.time()))
        server_cpu = cpu_seconds(server_pid) - server0
        client_cpu = sum(cpu_seconds(w.pid) for w in workers) - clients0
        if spy is not None:
            spy.wait()
        run = Run(clients=connected, seconds=seconds, server_cpu=server_cpu, client_cpu=client_cpu)
        for k, worker in enumerate(workers):
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "done", "a client process failed"
            result = json.loads((results / f"clients-{k}.json").read_text())
            run.still_open += result["still_open"]
            run.frame_bytes += result["frame_bytes"]
            for key, (_, offsets) in result["pushes"].items():
                run.receipts.setdefault(int(key), []).extend(offsets)
        return run
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
