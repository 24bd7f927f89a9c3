"""`tail --since N` and `tail --format csv` against a running sidecar."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from decimal import Decimal

import httpx

from metrics_client.lines import CSV_COLUMNS
from server.settings import Settings
from tests.support.live import serve, wait_until


def _tail(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "METRICS_TOKEN"}
    return subprocess.Popen(
        [sys.executable, "-m", "metrics_client", "tail", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _lines(process: subprocess.Popen[str], count: int) -> list[str]:
    assert process.stdout is not None
    try:
        return [process.stdout.readline().rstrip("\n") for _ in range(count)]
    finally:
        process.terminate()
        process.wait(timeout=10)


def _a_sale(address: str) -> None:
    event = {"type": "transaction", "id": "t-tail", "userId": "u-1", "amount": "12.50", "status": "completed"}
    assert httpx.post(f"http://{address}/api/v1/events", json=event).status_code == 200
    wait_until(
        lambda: httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").json()["revenue"]["today"] == 12.5,
        10,
        "a snapshot counts the sale",
    )


def test_tail_since_starts_with_the_snapshots_after_n_in_order(settings: Settings) -> None:
    with serve(settings) as address:
        wait_until(lambda: _current(address) >= 8, 10, "a few snapshots")
        since = _current(address) - 5
        lines = _lines(_tail("--url", f"ws://{address}/ws/metrics", "--since", str(since)), 8)
    ids = [json.loads(line)["snapshotId"] for line in lines]
    fresh = [i for n, i in enumerate(ids) if n == 0 or i != ids[n - 1]]  # a repeat is a stale copy
    assert fresh == list(range(since + 1, since + 1 + len(fresh)))


def test_tail_format_csv_has_a_header_and_the_main_figures_with_exact_money(settings: Settings) -> None:
    with serve(settings) as address:
        _a_sale(address)
        lines = _lines(_tail("--url", f"ws://{address}/ws/metrics", "--format", "csv"), 3)
        current = httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").text
    header, *rows = list(csv.reader(lines))
    assert header == [name for name, _ in CSV_COLUMNS]
    assert len(rows) == 2
    row = dict(zip(header, rows[0], strict=True))
    # Money as the sidecar wrote it, to the cent, never through a float.
    assert (row["revenueToday"], row["revenueTotal"]) == ("12.50", "12.50")
    assert row["stale"] in ("true", "false") and int(row["snapshotId"]) >= 1
    rate = json.loads(current, parse_float=Decimal)["content"]["conversionRate"]
    assert Decimal(row["contentConversionRate"]) == rate
    assert int(rows[1][0]) >= int(rows[0][0])


def test_tail_refuses_a_since_that_is_not_a_snapshot_id() -> None:
    process = _tail("--since", "yesterday")
    assert process.wait(timeout=30) == 2
    assert process.stderr is not None and "a snapshotId is an integer >= 0, got 'yesterday'" in process.stderr.read()


def _current(address: str) -> int:
    return int(httpx.get(f"http://{address}/api/v1/analytics/realtime-metrics").json()["snapshotId"])
