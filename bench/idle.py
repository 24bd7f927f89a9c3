"""Idle cost: 100 connected clients, no ingest; the sidecar's CPU vs the Node `ws` baseline's.

    .venv/bin/python -m bench.idle             # 100 clients, a 60 s window per server
    .venv/bin/python -m bench.idle --full      # the same over 300 s

The sidecar is the real one (`python -m server`, SQLite, the default METRICS_INTERVAL of 5 s: it
still computes a snapshot every 5 s and pushes it, and pings every socket every 20 s). The
baseline is bench/node/server.js pushing the same snapshot every 5 s to the same 100 clients.
CPU is utime + stime from /proc/<pid>/stat over the window, as a share of one core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bench.wsrig import load, node_baseline, raise_fd_limit, sidecar, snapshot_of

INTERVAL = 5.0  # the spec's cadence, the sidecar's default
TARGET = 1.0  # percent of a core


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="a 300 s window")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, help="measured window per server (default 60; 300 with --full)")
    parser.add_argument("--profile", type=Path, help="py-spy the sidecar over its window into this file (collapsed)")
    args = parser.parse_args()
    seconds = args.seconds or (300.0 if args.full else 60.0)
    raise_fd_limit()

    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        workdir = Path(tmp)
        print(f"idle: {args.clients} clients, no ingest, a push every {INTERVAL:g} s, {seconds:g} s window per server")
        with sidecar(workdir, INTERVAL) as (pid, port):
            payload = snapshot_of(port)
            product = load(pid, port, args.clients, 1, seconds, workdir, profile=args.profile)
        with node_baseline(workdir, payload, INTERVAL) as (pid, port):
            baseline = load(pid, port, args.clients, 1, seconds, workdir)

    ours = product.server_cpu / seconds * 100
    theirs = baseline.server_cpu / seconds * 100
    print(f"  {'':<26} {'sidecar':>10} {'node ws':>10}   {'ratio':>7}")
    ratio = ours / theirs if theirs else float("nan")
    print(f"  {'CPU, % of one core':<26} {ours:>10.2f} {theirs:>10.2f}   {ratio:>6.2f}x")
    print(f"  {'CPU seconds in the window':<26} {product.server_cpu:>10.2f} {baseline.server_cpu:>10.2f}")
    for name, run in (("sidecar", product), ("node ws", baseline)):
        print(
            f"  {name}: {run.clients} clients, {len(run.receipts)} pushes, delivered {run.delivered:,} of"
            f" {run.expected:,}, open at the end {run.still_open}"
        )
    verdict = "met" if ours < TARGET else "MISSED"
    print(f"  target: the sidecar under {TARGET:g}% of a core: {verdict} ({ours:.2f}%; {os.cpu_count()} cores here)")


if __name__ == "__main__":
    main()
