"""Fan-out: the sidecar vs a hand-made Node `ws` server, the same clients, one push a second.

    .venv/bin/python -m bench.fanout           # 2,000 clients, a 30 s window: a few minutes
    .venv/bin/python -m bench.fanout --full    # 10,000 clients, a 60 s window

Both servers run in this one run, one after the other, under the same load: client processes
(bench/wsclients.py) connecting from several loopback addresses. The sidecar is the real one
(`python -m server`, METRICS_INTERVAL=1, SQLite) pushing its real snapshot; the baseline is
bench/node/server.js pushing that same snapshot (captured from the sidecar) with JSON.stringify
per client, run twice: as most hand-made servers are, without pings ("node ws"), and with ws's
README heartbeat every 20 s ("node ws+hb"), which detects dead peers as the contract requires and
the sidecar does (it pings each socket every 20 s). Ratios are the sidecar's over each. For each
server it prints:
  - delivery latency p50 / p99 / max: receipt minus the push's `timestamp`. For the sidecar that
    timestamp is taken before the snapshot's database queries, so its figure includes them;
  - server CPU per delivered message: utime + stime of the server process (/proc/<pid>/stat) over
    the window, divided by the messages delivered in it;
  - deliveries against pushes x clients (every push must reach every client);
  - bytes per update per client: WebSocket frames as on the wire (header included);
  - the client processes' share of the machine, to show they are not the bottleneck.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import httpx

from bench.wsrig import Run, load, node_baseline, quantile, raise_fd_limit, sidecar, snapshot_of

INTERVAL = 1.0
HEARTBEAT = 20.0  # the sidecar's ws_ping_interval (server/app.py uvicorn_config)


def _mean_compute_ms(port: int) -> float:
    """The sidecar's mean snapshot computation time so far, from its /metrics."""
    values = {}
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text.splitlines():
        if line.startswith("metrics_snapshot_compute_seconds_"):
            name, value = line.split()
            values[name] = float(value)
    count = values.get("metrics_snapshot_compute_seconds_count", 0.0)
    return values.get("metrics_snapshot_compute_seconds_sum", 0.0) / count * 1e3 if count else float("nan")


def _row(label: str, product: float, baselines: list[float], unit: str, digits: int = 1) -> str:
    cells = "".join(
        f" {baseline:>12,.{digits}f} {product / baseline if baseline else float('nan'):>6.2f}x"
        for baseline in baselines
    )
    return f"  {label:<40} {product:>12,.{digits}f}{cells}   {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10,000 clients over a 60 s window")
    parser.add_argument("--clients", type=int, help="sockets (default 2,000; 10,000 with --full)")
    parser.add_argument("--seconds", type=float, help="measured window (default 30; 60 with --full)")
    parser.add_argument("--processes", type=int, help="client processes (default: one per 2,500 sockets, >= 2)")
    parser.add_argument("--profile", type=Path, help="py-spy the sidecar over its window into this file (collapsed)")
    args = parser.parse_args()
    clients = args.clients or (10_000 if args.full else 2_000)
    seconds = args.seconds or (60.0 if args.full else 30.0)
    processes = args.processes or max(2, -(-clients // 2500))
    raise_fd_limit()

    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        workdir = Path(tmp)
        print(
            f"fan-out: {clients:,} clients in {processes} processes,"
            f" one push every {INTERVAL:g} s, {seconds:g} s window; load average {os.getloadavg()[0]:.1f}"
        )
        with sidecar(workdir, INTERVAL) as (pid, port):
            payload = snapshot_of(port)
            print(f"  snapshot (REST body, {len(payload)} bytes): {payload.decode()}")
            product = load(pid, port, clients, processes, seconds, workdir, profile=args.profile)
            compute_ms = _mean_compute_ms(port)
        baselines: dict[str, Run] = {}
        for name, heartbeat in (("node ws", 0.0), ("node ws+hb", HEARTBEAT)):
            with node_baseline(workdir, payload, INTERVAL, heartbeat=heartbeat) as (pid, port):
                baselines[name] = load(pid, port, clients, processes, seconds, workdir)

    cores = os.cpu_count() or 1
    print()
    others = list(baselines.values())
    header = "".join(f" {name:>12} {'ratio':>7}" for name in baselines)
    print(f"  {'':<40} {'sidecar':>12}{header}")
    for name, series in (
        ("since the payload timestamp", Run.since_timestamp),
        ("since the first receipt", Run.since_first_receipt),
    ):
        ours, theirs = series(product), [series(run) for run in others]
        for q in (0.50, 0.99, 1.0):
            label = f"latency {'max' if q == 1.0 else f'p{q * 100:.0f}'} {name}"
            print(_row(label, quantile(ours, q) * 1e3, [quantile(t, q) * 1e3 for t in theirs], "ms"))

    def per_message(run: Run) -> float:
        return run.server_cpu / max(1, run.delivered) * 1e6

    print(_row("server CPU per delivered message", per_message(product), [per_message(r) for r in others], "us", 2))
    print(
        _row(
            "server CPU",
            product.server_cpu / seconds * 100,
            [r.server_cpu / seconds * 100 for r in others],
            "% of a core",
        )
    )
    print(
        _row(
            "bytes per update per client",
            product.frame_bytes / max(1, product.delivered),
            [r.frame_bytes / max(1, r.delivered) for r in others],
            "B (frame incl. header)",
        )
    )
    print(f"  load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for name, run in (("sidecar", product), *baselines.items()):
        missing = run.expected - run.delivered
        print(
            f"  {name}: delivered {run.delivered:,} of {run.expected:,} ({len(run.receipts)} pushes x"
            f" {run.clients:,} clients; missing {missing:,}), sockets open at the end {run.still_open:,};"
            f" client processes {run.client_cpu / seconds / cores * 100:.1f}% of the machine"
        )
    print(
        f"  the sidecar's timestamp is taken before its snapshot's database queries (mean {compute_ms:.1f} ms"
        " here), so its latency since the timestamp includes them; since the first receipt it does not"
    )


if __name__ == "__main__":
    main()
