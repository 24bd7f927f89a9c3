"""Resume on `/ws/metrics`: every snapshot missed, in order, then live ones; a reset when that cannot be."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.merge_patch import apply_patch
from server.settings import Settings
from tests.support.helpers import LocalClient, refresh, service_of, sql


def _latest(client: TestClient) -> int:
    latest = service_of(client).hub.latest
    assert latest is not None
    return latest.id


def _wait_for_snapshot(client: TestClient, snapshot_id: int) -> None:
    deadline = time.monotonic() + 20
    while _latest(client) < snapshot_id:
        assert time.monotonic() < deadline, f"no snapshot {snapshot_id} in 20 s"
        time.sleep(0.02)


def _next(ws: Any) -> dict[str, Any]:
    return json.loads(ws.receive_text(), parse_float=Decimal)


def _snapshots_until(ws: Any, last_id: int) -> list[tuple[int, bool]]:
    """(snapshotId, stale) of every metrics message up to and including the first fresh `last_id`."""
    seen: list[tuple[int, bool]] = []
    while True:
        message = _next(ws)
        assert message["type"] == "metrics", message
        seen.append((message["data"]["snapshotId"], message["data"]["stale"]))
        if seen[-1] == (last_id, False) or seen[-1][0] > last_id:
            return seen


def _assert_gapless(seen: list[tuple[int, bool]], first: int) -> None:
    """Fresh ids one after another from `first`; an id comes again only as its stale copy."""
    assert seen[0][0] == first, seen
    for (previous, _), (snapshot_id, stale) in itertools.pairwise(seen):
        assert snapshot_id == previous + 1 or (snapshot_id == previous and stale), seen


def test_a_client_back_after_several_intervals_gets_every_missed_snapshot_in_order_then_live(
    client: TestClient,
) -> None:
    refresh(client)
    with client.websocket_connect("/ws/metrics") as ws:
        last_seen = _next(ws)["data"]["snapshotId"]
    _wait_for_snapshot(client, last_seen + 6)  # away for six intervals and more
    with client.websocket_connect(f"/ws/metrics?since={last_seen}") as ws:
        assert _next(ws) == {"type": "resumed", "since": last_seen}
        back_at = _latest(client)
        seen = _snapshots_until(ws, back_at + 3)  # the replay, then three live ones
    _assert_gapless(seen, last_seen + 1)
    assert prometheus_sample(client, 'metrics_stream_resumes_total{outcome="replayed"}') == 1
    assert prometheus_sample(client, "metrics_stream_replayed_total") >= back_at - last_seen


def prometheus_sample(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} is not in /metrics")


def test_a_resume_message_replays_after_its_answer_with_nothing_before_it_repeated(client: TestClient) -> None:
    refresh(client)
    with client.websocket_connect("/ws/metrics") as ws:
        first = _next(ws)["data"]["snapshotId"]
        _wait_for_snapshot(client, first + 4)  # pushes keep arriving meanwhile
        ws.send_text(json.dumps({"type": "resume", "since": first}))
        while (message := _next(ws))["type"] != "resumed":  # pushes sent before the request was read
            assert message["type"] == "metrics"
        assert message == {"type": "resumed", "since": first}
        seen = _snapshots_until(ws, _latest(client) + 2)
    _assert_gapless(seen, first + 1)


def test_resuming_at_the_current_snapshot_sends_nothing_twice(tmp_path: Path) -> None:
    slow = Settings(database_url=f"sqlite:///{tmp_path / 'metrics.db'}", interval=60, embedded=False)
    with LocalClient(create_app(slow)) as client:  # snapshots only when the test refreshes
        current = refresh(client)["snapshotId"]
        with client.websocket_connect(f"/ws/metrics?since={current}") as ws:
            assert _next(ws) == {"type": "resumed", "since": current}
            following = refresh(client)["snapshotId"]
            assert _next(ws)["data"]["snapshotId"] == following == current + 1


def test_an_invalid_since_is_refused_with_an_error_and_the_stream_goes_on(client: TestClient) -> None:
    with client.websocket_connect("/ws/metrics?since=yesterday") as ws:
        error = _next(ws)
        assert error["type"] == "error" and error["error"]["code"] == "invalid_message"
        assert _next(ws)["type"] == "metrics"
        for bad in ('{"type": "resume"}', '{"type": "resume", "since": -1}', '{"type": "resume", "since": true}'):
            ws.send_text(bad)
            while (message := _next(ws))["type"] == "metrics":
                pass
            assert message["type"] == "error" and message["error"]["code"] == "invalid_message"


@pytest.fixture
def small_ring(tmp_path: Path) -> Settings:
    """Three snapshots in memory, so that older ones come from the log (or are gone)."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'metrics.db'}",
        interval=0.2,
        embedded=False,
        history_size=3,
        replay_ring=3,
        replay_limit=40,
    )


def test_snapshots_no_longer_in_memory_are_replayed_from_the_log(small_ring: Settings) -> None:
    with LocalClient(create_app(small_ring)) as client:
        _wait_for_snapshot(client, 12)
        with client.websocket_connect("/ws/metrics?since=2") as ws:
            assert _next(ws) == {"type": "resumed", "since": 2}
            seen = _snapshots_until(ws, _latest(client) + 1)
    _assert_gapless(seen, 3)


def test_since_older_than_what_is_kept_gets_an_explicit_reset_then_the_current_snapshot(small_ring: Settings) -> None:
    with LocalClient(create_app(small_ring)) as client:
        _wait_for_snapshot(client, 10)
        sql(client, "DELETE FROM snapshot_log WHERE snapshot_id <= 6")  # as the 24 h prune does
        with client.websocket_connect("/ws/metrics?since=2") as ws:
            reset = _next(ws)
            current = _next(ws)["data"]
            latest = _latest(client)
        assert reset == {"type": "reset", "since": 2, "oldest": 7, "latest": reset["latest"], "reason": "expired"}
        assert reset["latest"] <= current["snapshotId"] <= latest
        assert prometheus_sample(client, 'metrics_stream_resumes_total{outcome="expired"}') == 1


def test_more_missed_than_one_resume_replays_gets_a_reset(small_ring: Settings) -> None:
    with LocalClient(create_app(replace(small_ring, replay_limit=5))) as client:
        _wait_for_snapshot(client, 9)
        with client.websocket_connect("/ws/metrics?since=1") as ws:
            reset = _next(ws)
            assert reset["type"] == "reset" and reset["reason"] == "too_many"
            assert (reset["since"], reset["oldest"]) == (1, 1)
            assert _next(ws)["data"]["snapshotId"] >= reset["latest"]


def test_since_ahead_of_the_current_snapshot_is_another_deployment_and_gets_a_reset(client: TestClient) -> None:
    refresh(client)
    with client.websocket_connect("/ws/metrics?since=1000000") as ws:
        reset = _next(ws)
        assert reset["type"] == "reset" and reset["reason"] == "ahead" and reset["oldest"] == 1
        assert _next(ws)["type"] == "metrics"


def test_deltas_rebuild_every_snapshot_exactly_whole_again_after_a_resume(client: TestClient) -> None:
    refresh(client)
    with client.websocket_connect("/ws/metrics?deltas=1") as ws:
        first = _next(ws)
        assert first["type"] == "metrics"  # whole, first
        held = first["data"]
        deltas = 0
        while deltas < 6:
            message = _next(ws)
            if message["type"] == "delta":
                assert message["base"] == held["snapshotId"]
                held = apply_patch(held, message["patch"])
                assert held["snapshotId"] == message["snapshotId"]
                deltas += 1
            else:
                held = message["data"]
            # What REST served for that snapshot, byte for byte (REST serves the newest only, so
            # the log is the reference).
            assert _logged(client, held["snapshotId"], held["stale"]) == held
    with client.websocket_connect(f"/ws/metrics?deltas=1&since={held['snapshotId'] - 2}") as ws:
        assert _next(ws)["type"] == "resumed"
        assert _next(ws)["type"] == "metrics"  # whole after a resume
        assert _next(ws)["type"] == "delta"


def _logged(client: TestClient, snapshot_id: int, stale: bool) -> dict[str, Any]:
    """The snapshot as the log keeps it (as served when `stale` is false)."""
    from server.storage import snapshot_log

    [payload] = client.portal.call(snapshot_log.oldest_after, service_of(client).engine, snapshot_id - 1, 1)
    data = json.loads(payload, parse_float=Decimal)
    return {**data, "stale": True} if stale else data
