"""`StreamPosition` message by message: ids handed out once and in order, a jump answered with a
resume on the same connection, deltas applied or refused, a reset let through."""

from __future__ import annotations

from typing import Any

import pytest

from metrics_client.resume import OutOfStep, StreamPosition


def _metrics(snapshot_id: int, *, stale: bool = False, today: str = "1.00") -> dict[str, Any]:
    return {"type": "metrics", "data": {"revenue": {"today": today}, "snapshotId": snapshot_id, "stale": stale}}


def _ids(position: StreamPosition, messages: list[dict[str, Any]]) -> list[Any]:
    handed = [position.accept(m) for m in messages]
    return [h["data"]["snapshotId"] if h and h["type"] == "metrics" else h and h["type"] for h in handed]


def test_repeats_are_dropped_except_the_stale_copy_of_the_last() -> None:
    position = StreamPosition()
    assert _ids(position, [_metrics(5), _metrics(6), _metrics(6), _metrics(5), _metrics(6, stale=True)]) == [
        5,
        6,
        None,
        None,
        6,
    ]


def test_a_jump_in_ids_asks_for_a_resume_and_drops_what_comes_before_resumed() -> None:
    position = StreamPosition()
    assert _ids(position, [_metrics(5), _metrics(9)]) == [5, None]
    assert position.resume_from == 5
    position.resume_from = None  # sent
    assert _ids(position, [_metrics(10), {"type": "resumed", "since": 5}, _metrics(6), _metrics(7)]) == [
        None,
        "resumed",
        6,
        7,
    ]
    assert position.resume_from is None and position.last_id == 7


def test_after_a_resume_the_next_id_is_taken_as_it_comes() -> None:
    """A sidecar whose ids do jump cannot make the client ask again and again."""
    position = StreamPosition(since=5)
    position.connected()
    assert _ids(position, [{"type": "resumed", "since": 5}, _metrics(8), _metrics(9)]) == ["resumed", 8, 9]
    assert position.resume_from is None


def test_a_reset_lets_lower_ids_through() -> None:
    position = StreamPosition(since=1000)
    reset = {"type": "reset", "since": 1000, "oldest": 1, "latest": 3, "reason": "ahead"}
    assert _ids(position, [reset, _metrics(3), _metrics(4)]) == ["reset", 3, 4]


def test_deltas_are_applied_on_the_snapshot_held() -> None:
    position = StreamPosition()
    position.accept(_metrics(5))
    delta = {"type": "delta", "snapshotId": 6, "base": 5, "patch": {"revenue": {"today": "2.00"}, "snapshotId": 6}}
    assert position.accept(delta) == _metrics(6, today="2.00")
    stale = {"type": "delta", "snapshotId": 6, "base": 6, "patch": {"stale": True}}
    assert position.accept(stale) == _metrics(6, stale=True, today="2.00")
    assert position.patches_applied == 2


def test_a_delta_on_another_base_is_out_of_step() -> None:
    position = StreamPosition()
    position.accept(_metrics(5))
    with pytest.raises(OutOfStep, match="a delta on snapshot 4 came while holding 5"):
        position.accept({"type": "delta", "snapshotId": 6, "base": 4, "patch": {"snapshotId": 6}})
    assert position.last_id == 5  # the reconnect resumes after 5: nothing wrong was handed out
