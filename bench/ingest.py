"""Ingest throughput: the batch endpoint into PostgreSQL vs one INSERT and commit per event, in one run.

    .venv/bin/python -m bench.ingest             # ~40 s of load on the sidecar, ~10 s of baseline
    .venv/bin/python -m bench.ingest --full      # ~3 min of load, ~30 s of baseline
    .venv/bin/python -m bench.ingest --profile   # also samples the sidecar with py-spy during the load

The product side starts a real sidecar (`python -m server`, uvicorn) on a fresh PostgreSQL database
`metrics_bench_ingest_*` next to BENCH_DATABASE_URL's (default postgresql://postgres@127.0.0.1:5432/test)
and sends a realistic event mix (user activity, content views with a user, transactions created
pending and moved to completed or failed in a later batch) as `{"events": [...]}` batches over several
HTTP/1.1 keep-alive connections. Every request body is encoded before the clock starts and the client
is raw asyncio, so the load generator stays cheap on a 2-core machine; its CPU share is printed.

The baseline writes the first events of the same streams into a second fresh database with the same
schema (triggers included), one INSERT (or UPDATE for a status change) and one commit per event, in a
plain asyncpg loop. Both databases are dropped at the end (`--keep` keeps them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from server.storage.db import create_engine
from server.storage.migrate import upgrade_to_head

BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
TARGET_RATE = 30_000  # events/s (issue 5, target 3)
TARGET_P99 = 0.100  # seconds from sending a batch to its acknowledgement
PACED_CONNECTIONS = 8
RATE_CAP = 60_000  # events/s the saturating phase's pre-encoded bodies can feed
USERS = 200_000
CONTENT = 2_000

# -- the event streams -------------------------------------------------------------------------


@dataclass
class Stream:
    """One connection's events: transactions it created come back with a status change a few
    batches later, on the same connection, so the creation is always acknowledged first."""

    tag: str
    seed: str
    times: list[str]
    rng: random.Random = field(init=False)
    pending: deque[tuple[int, str, str]] = field(default_factory=deque)  # (batch, id, created at)
    serial: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def batch(self, number: int, size: int) -> list[tuple[str, ...]]:
        rng, events = self.rng, []
        for _ in range(size):
            self.serial += 1
            r = rng.random()
            at = self.times[rng.randrange(len(self.times))]
            user = f"u-{rng.randrange(USERS)}"
            content = f"c-{int(CONTENT * rng.random() ** 2)}"
            event_id = f"{self.tag}-{self.serial}" if rng.random() < 0.5 else ""
            if r < 0.45:
                events.append(("user_activity", user, at, event_id))
            elif r < 0.80:
                events.append(("content_view", content, user, at, event_id))
            elif r < 0.90 or not self.pending or self.pending[0][0] > number - 2:
                tx_id = f"t-{self.tag}-{self.serial}"
                amount = f"{rng.randrange(99, 20000) / 100:.2f}"
                status = "pending" if rng.random() < 0.9 else "completed"
                if status == "pending":
                    self.pending.append((number, tx_id, at))
                events.append(("transaction", tx_id, user, content, amount, status, at))
            else:
                _, tx_id, created = self.pending.popleft()
                status = "completed" if rng.random() < 0.9 else "failed"
                events.append(("status", tx_id, status, max(at, created)))
        return events


def encode(events: list[tuple[str, ...]]) -> bytes:
    parts = []
    for e in events:
        kind = e[0]
        if kind == "user_activity":
            extra = f',"eventId":"{e[3]}"' if e[3] else ""
            parts.append(f'{{"type":"user_activity","userId":"{e[1]}","at":"{e[2]}"{extra}}}')
        elif kind == "content_view":
            extra = f',"eventId":"{e[4]}"' if e[4] else ""
            parts.append(f'{{"type":"content_view","contentId":"{e[1]}","userId":"{e[2]}","at":"{e[3]}"{extra}}}')
        elif kind == "transaction":
            parts.append(
                f'{{"type":"transaction","id":"{e[1]}","userId":"{e[2]}","contentId":"{e[3]}",'
                f'"amount":"{e[4]}","currency":"USD","status":"{e[5]}","at":"{e[6]}"}}'
            )
        else:
            parts.append(f'{{"type":"transaction","id":"{e[1]}","status":"{e[2]}","at":"{e[3]}"}}')
    return ('{"events":[' + ",".join(parts) + "]}").encode()


def request_bytes(port: int, body: bytes) -> bytes:
    head = (
        f"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def event_times(now: datetime) -> list[str]:
    """Client-side timestamps of the last minute (ISO, milliseconds, Z), as an SDK would send them."""
    return [
        (now - timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for ms in range(0, 60_000, 37)
    ]


# -- databases ---------------------------------------------------------------------------------


def database_url(name: str) -> str:
    return make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(BASE_URL))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


# -- the baseline: one INSERT and one commit per event -------------------------------------------


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def baseline(url: str, events: list[tuple[str, ...]], seconds: float) -> tuple[int, float]:
    """Events stored one statement (autocommit) at a time until `seconds` pass; (count, elapsed)."""
    prepared = []
    for e in events:  # arguments converted before the clock starts, as the product's client did too
        if e[0] == "user_activity":
            prepared.append(
                (
                    "INSERT INTO user_activity (user_id, at, event_id) VALUES ($1, $2, $3)",
                    (e[1], _parse_time(e[2]), e[3] or None),
                )
            )
        elif e[0] == "content_view":
            prepared.append(
                (
                    "INSERT INTO content_views (content_id, user_id, viewed_at, event_id) VALUES ($1, $2, $3, $4)",
                    (e[1], e[2], _parse_time(e[3]), e[4] or None),
                )
            )
        elif e[0] == "transaction":
            at = _parse_time(e[6])
            prepared.append(
                (
                    "INSERT INTO transactions (id, user_id, content_id, amount, currency, status, created_at,"
                    " completed_at) VALUES ($1, $2, $3, $4, 'USD', $5, $6, $7)",
                    (e[1], e[2], e[3], Decimal(e[4]), e[5], at, at if e[5] == "completed" else None),
                )
            )
        else:
            at = _parse_time(e[3])
            prepared.append(
                (
                    "UPDATE transactions SET status = $2, completed_at = $3, status_changed_at = $4"
                    " WHERE id = $1 AND status = 'pending'",
                    (e[1], e[2], at if e[2] == "completed" else None, at),
                )
            )
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        deadline = started + seconds
        done = 0
        for statement, arguments in prepared:
            await conn.execute(statement, *arguments)
            done += 1
            if done % 100 == 0 and time.perf_counter() > deadline:
                break
        return done, time.perf_counter() - started
    finally:
        await conn.close()


# -- the product: a real sidecar under load --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    queue.extend(int(c) for c in f.read().split())
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


async def backend_pids(url: str) -> list[int]:
    """The PostgreSQL server processes serving the sidecar's database (its pooled connections)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        name = make_url(url).database
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        return [row["pid"] for row in rows]
    finally:
        await conn.close()


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


@dataclass
class LoadResult:
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    requests: int = 0
    failures: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


async def _connection(
    port: int,
    requests: list[bytes],
    sizes: list[int],
    start: float,
    deadline: float,
    every: float | None,
    result: LoadResult,
) -> None:
    """Send `requests` one after the other on one keep-alive connection: as fast as answered, or
    (`every` set) each at its turn on a fixed schedule, its latency counted from its turn so that
    a late answer also delays what waited behind it (no coordinated omission)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for turn, (request, size) in enumerate(zip(requests, sizes, strict=True)):
            if every is None:
                started = time.perf_counter()
            else:
                started = start + turn * every
                await asyncio.sleep(max(0.0, started - time.perf_counter()))
            if started >= deadline or time.perf_counter() >= deadline:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - started)
            result.requests += 1
            status = int(head[9:12])
            if status != 200:
                result.failures[status] += 1
                if result.failures[status] <= 3:
                    print(f"  HTTP {status}: {body[:300]!r}", file=sys.stderr)
                continue
            result.events += size
            accepted = body.split(b'"accepted":', 1)[1].split(b",", 1)[0]
            duplicates = body.split(b'"duplicates":', 1)[1].split(b"}", 1)[0]
            result.accepted += int(accepted)
            result.duplicates += int(duplicates)
    finally:
        writer.close()


async def load(
    port: int, streams: list[list[bytes]], sizes: list[list[int]], seconds: float, rate: float | None = None
) -> tuple[LoadResult, float]:
    """Closed loop (each connection sends its next batch when answered), or paced at `rate` events/s
    spread evenly over the connections."""
    result = LoadResult()
    start = time.perf_counter()
    every = None
    if rate is not None:
        every = len(streams) * sizes[0][0] / rate  # each connection's interval
    await asyncio.gather(
        *(
            _connection(port, s, z, start + (every or 0) * i / len(streams), start + seconds, every, result)
            for i, (s, z) in enumerate(zip(streams, sizes, strict=True))
        )
    )
    return result, time.perf_counter() - start


def start_sidecar(url: str, port: int, redis: bool, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # The per-address request limit guards a shared deployment; the bench is one address on purpose.
        "METRICS_REQUESTS_PER_SECOND": "100000",
        "METRICS_REDIS_PREFIX": f"bench-ingest-{uuid.uuid4().hex[:8]}:",
    }
    if redis:
        env["REDIS_URL"] = REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env, stdout=log, stderr=log)


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sidecar exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError("the sidecar did not become healthy")


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        print("py-spy is not installed (requirements-dev.txt); no profile", file=sys.stderr)
        return None
    command = [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "97", "--nonblocking"]
    command += ["-s", "-f", "raw", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _function(frame: str) -> str:
    """'name (path/to/file.py:123)' -> 'name (to/file.py)': samples of one function add up across lines."""
    name, _, where = frame.partition(" (")
    if not where:
        return frame
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(path.split('/')[-2:])})"


def summarize_profile(path: Path, top: int = 25) -> None:
    """Self and inclusive sample shares per function, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_function(f) for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        print("profile: no samples")
        return
    print(f"\nprofile of the sidecar ({total} samples, {path}):")
    print("  self time:")
    for frame, n in own.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {frame}")
    print("  inclusive (server code):")
    ours = [(f, n) for f, n in inclusive.most_common() if "(server/" in f or "(storage/" in f]
    for frame, n in ours[:top]:
        print(f"    {100 * n / total:5.1f}%  {frame}")


async def disable_triggers(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for table in ("user_activity", "content_views", "transactions"):
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    finally:
        await conn.close()


async def verify(url: str) -> tuple[int, int]:
    """(rows stored, status changes stored): what the acknowledgements promised is in the database."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetchval(
            "SELECT (SELECT count(*) FROM user_activity) + (SELECT count(*) FROM content_views)"
            " + (SELECT count(*) FROM transactions)"
        )
        changed = await conn.fetchval("SELECT count(*) FROM transactions WHERE status_changed_at IS NOT NULL")
        return int(rows), int(changed)
    finally:
        await conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Phase:
    """One load phase: its result and the CPU each party used meanwhile."""

    name: str
    result: LoadResult
    elapsed: float
    cpu: dict[str, float]
    machine_share: float  # of all cores


def run_phase(
    name: str,
    port: int,
    sidecar_pids: list[int],
    url: str,
    load_args: tuple[Any, ...],
    seconds: float,
    rate: float | None,
) -> Phase:
    backends = asyncio.run(backend_pids(url))
    sidecar0 = cpu_seconds(sidecar_pids)
    backends0 = {pid: cpu_seconds([pid]) for pid in backends}
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    busy0, total0 = machine_busy()
    result, elapsed = asyncio.run(load(port, *load_args, seconds, rate=rate))
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    busy1, total1 = machine_busy()
    generator = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    sidecar = cpu_seconds(sidecar_pids) - sidecar0
    # Connections the pool opened during the load count from zero.
    postgres = sum(cpu_seconds([pid]) - backends0.get(pid, 0.0) for pid in asyncio.run(backend_pids(url)))
    cpu = {"sidecar": sidecar, "postgres (its connections)": postgres, "load generator": generator}
    return Phase(name, result, elapsed, cpu, (busy1 - busy0) / (total1 - total0))


def report(phase: Phase, base_rate: float) -> bool:
    """Print a phase's figures beside the baseline's; whether it met the target."""
    result, elapsed = phase.result, phase.elapsed
    rate = result.events / elapsed
    p50, p99 = percentile(result.latencies, 0.5), percentile(result.latencies, 0.99)
    print(f"  {phase.name}:")
    print(
        f"    product : {rate:>9,.0f} events/s"
        f" ({result.events:,} events, {result.requests:,} requests, {elapsed:.1f} s)"
    )
    print(
        f"              ack p50 {1000 * p50:.1f} ms, p99 {1000 * p99:.1f} ms, max {1000 * max(result.latencies):.1f} ms"
    )
    print(f"    ratio   : {rate / base_rate:>9.1f}x the baseline")
    cores = os.cpu_count() or 1
    shares = ", ".join(f"{name} {100 * seconds / elapsed:.0f}%" for name, seconds in phase.cpu.items())
    print(
        f"    CPU (100% = one core): {shares}; whole machine {100 * cores * phase.machine_share:.0f}% of {100 * cores}%"
    )
    per_thousand = ", ".join(
        f"{name} {1_000_000 * seconds / max(1, result.events):.1f} ms" for name, seconds in phase.cpu.items()
    )
    print(f"    CPU per 1,000 events: {per_thousand}")
    # Batches take turns in PostgreSQL, so its share is bounded by one core; all of it by all cores.
    postgres_ms = 1000 * phase.cpu["postgres (its connections)"] / max(1, result.events)
    total_ms = 1000 * sum(phase.cpu.values()) / max(1, result.events)
    ceiling = 1000 / max(postgres_ms, total_ms / cores, 1e-9)
    print(f"    CPU-bound ceiling of these costs on an idle machine: {ceiling:,.0f} events/s")
    if result.failures:
        print(f"    FAILED requests by status: {dict(result.failures)}")
    return rate >= TARGET_RATE * 0.98 and p99 <= TARGET_P99 and not result.failures


def encode_streams(
    tag: str, port: int, connections: int, batch: int, count: int, times: list[str]
) -> tuple[list[list[bytes]], list[list[int]], list[tuple[str, ...]]]:
    """Per connection, `count` request bodies (encoded now, before any clock runs) and their sizes;
    and connection 0's events in order, for the baseline."""
    streams = [Stream(tag=f"{tag}{i}", seed=f"{tag}{i}", times=times) for i in range(connections)]
    batches = [[s.batch(n, batch) for n in range(count)] for s in streams]
    requests = [[request_bytes(port, encode(b)) for b in bs] for bs in batches]
    sizes = [[len(b) for b in bs] for bs in batches]
    return requests, sizes, [e for b in batches[0] for e in b]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="90 s per load phase instead of 20 s")
    parser.add_argument("--seconds", type=float, help="seconds of each load phase")
    parser.add_argument("--baseline-seconds", type=float, help="seconds of the one-commit-per-event loop")
    parser.add_argument("--batch", type=int, default=1000, help="events per request (default 1000)")
    parser.add_argument("--connections", type=int, default=4, help="connections of the saturating phase")
    parser.add_argument("--no-redis", action="store_true", help="run the sidecar without Redis")
    parser.add_argument("--profile", action="store_true", help="sample the sidecar with py-spy during the load")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the sidecar log")
    parser.add_argument(
        "--without-triggers",
        action="store_true",
        help="diagnosis only: the product database's rollup and snapshot triggers off (its numbers go wrong)",
    )
    args = parser.parse_args()
    seconds = args.seconds or (90.0 if args.full else 20.0)
    baseline_seconds = args.baseline_seconds or (30.0 if args.full else 10.0)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    port = free_port()
    suffix = uuid.uuid4().hex[:8]
    product_db, baseline_db = f"metrics_bench_ingest_{suffix}", f"metrics_bench_ingest_{suffix}_baseline"
    product_url, baseline_url = database_url(product_db), database_url(baseline_db)
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))

    print(f"encoding the event streams (batches of {args.batch})...", flush=True)
    times = event_times(datetime.now(UTC))
    warm, warm_sizes, _ = encode_streams("w", port, PACED_CONNECTIONS, args.batch, 2, times)
    most = int(RATE_CAP * seconds / args.connections / args.batch) + 1
    saturating = encode_streams("s", port, args.connections, args.batch, most, times)
    paced_count = int(TARGET_RATE * seconds / PACED_CONNECTIONS / args.batch) + 2
    paced = encode_streams("p", port, PACED_CONNECTIONS, args.batch, paced_count, times)
    first = saturating[2][:300_000]  # the baseline stores these, in order (more than it has time for)

    asyncio.run(admin(f'CREATE DATABASE "{product_db}"'))
    asyncio.run(admin(f'CREATE DATABASE "{baseline_db}"'))
    process: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(migrate(baseline_url))
        print(f"baseline: one INSERT + commit per event (asyncpg), {baseline_seconds:.0f} s...", flush=True)
        base_count, base_elapsed = asyncio.run(baseline(baseline_url, first, baseline_seconds))
        base_rate = base_count / base_elapsed

        process = start_sidecar(product_url, port, not args.no_redis, workdir / "sidecar.log")
        wait_healthy(port, process)
        pids = process_tree(process.pid)
        if args.without_triggers:
            asyncio.run(disable_triggers(product_url))
        print(f"sidecar up (pid {process.pid}); warm-up, then 2 x {seconds:.0f} s of load...", flush=True)
        warmed, _ = asyncio.run(load(port, warm, warm_sizes, 10.0))

        profiler = None
        profile_path = workdir / "sidecar.pyspy.txt"
        if args.profile:
            profiler = start_profile(process.pid, seconds * 0.9, profile_path)
        phases = [
            run_phase(
                f"saturating: {args.connections} connections, each sending its next batch when answered",
                port,
                pids,
                product_url,
                saturating[:2],
                seconds,
                None,
            ),
            run_phase(
                f"paced at the target, {TARGET_RATE:,} events/s over {PACED_CONNECTIONS} connections",
                port,
                pids,
                product_url,
                paced[:2],
                seconds,
                TARGET_RATE,
            ),
        ]
        if profiler is not None:
            profiler.wait()
        rows, changed = asyncio.run(verify(product_url))

        setup = f"{'no Redis' if args.no_redis else 'Redis'}, batches of {args.batch}"
        if args.without_triggers:
            setup += ", TRIGGERS DISABLED (diagnosis)"
        print(f"\ningest into PostgreSQL through POST /api/v1/events ({setup})")
        print(
            f"  baseline: {base_rate:>9,.0f} events/s"
            f" ({base_count:,} events, one INSERT + commit each, {base_elapsed:.1f} s)"
        )
        met = [report(phase, base_rate) for phase in phases]
        verdict = "met" if met[1] else "MISSED"
        print(f"  target (>= {TARGET_RATE:,} events/s sustained, p99 <= {1000 * TARGET_P99:.0f} ms): {verdict}")
        results = [warmed] + [phase.result for phase in phases]
        accepted = sum(r.accepted for r in results)
        # Every event changed something (no repeats were sent); a status change adds no row.
        consistent = all(r.duplicates == 0 and r.accepted == r.events for r in results) and rows + changed == accepted
        print(
            f"  acknowledged {accepted:,} events; the database holds {rows:,} rows and {changed:,} status changes"
            f" ({'consistent' if consistent else 'INCONSISTENT'})"
        )
        if args.profile and profile_path.exists():
            summarize_profile(profile_path)
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if not args.keep:
            for name in (product_db, baseline_db):
                asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept: databases {product_db}, {baseline_db}; sidecar log and profile in {workdir}")


if __name__ == "__main__":
    main()
