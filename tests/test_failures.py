"""A failure that repeats is said once, reminded of with its count, and said to be over once."""

from __future__ import annotations

import logging

import pytest

from server.failures import RepeatingFailures, brief


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_repeating_failure_is_said_once_reminded_with_its_count_and_said_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    failures = RepeatingFailures(logging.getLogger("test.failures"), remind_every=600, monotonic=clock)
    caplog.set_level(logging.INFO, logger="test.failures")
    for _ in range(120):  # every 5 s for 10 minutes less a bit
        failures.failed("snapshot refresh", ConnectionRefusedError("connection refused"))
        clock.now += 5
    assert [r.getMessage() for r in caplog.records] == [
        "snapshot refresh failed: ConnectionRefusedError: connection refused "
        "(said once; a reminder follows every 10 min while it goes on)"
    ]
    failures.failed("snapshot refresh", ConnectionRefusedError("connection refused"))
    assert caplog.records[-1].getMessage() == (
        "snapshot refresh still failing: 121 times in 600 s (ConnectionRefusedError: connection refused)"
    )
    assert all(r.exc_info is None for r in caplog.records)  # an expected failure: no traceback
    clock.now += 7
    failures.recovered("snapshot refresh")
    failures.recovered("snapshot refresh")  # once only
    assert caplog.records[-1].getMessage() == "snapshot refresh works again after 121 failures over 607 s"
    assert len(caplog.records) == 3


def test_a_different_failure_is_said_again_and_an_unexpected_one_has_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = RepeatingFailures(logging.getLogger("test.failures"), monotonic=Clock())
    caplog.set_level(logging.INFO, logger="test.failures")
    failures.failed("lease", ConnectionRefusedError("connection refused"))
    failures.failed("lease", ConnectionRefusedError("connection refused"))
    failures.failed("lease", ValueError("a query is wrong"), expected=False)
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage().startswith("lease failed: ValueError: a query is wrong")
    assert caplog.records[1].exc_info is not None


def test_brief_keeps_the_first_line_of_the_drivers_message_only() -> None:
    class Wrapped(Exception):
        orig = RuntimeError("duplicate key value\nDETAIL: Key (snapshot_id)=(5) already exists.\n[SQL: INSERT ...]")

    assert brief(Wrapped("ignored")) == "RuntimeError: duplicate key value"
    assert brief(TimeoutError()) == "TimeoutError"
