"""The lifespan's shutdown is bounded step by step: a step that waits on a database or Redis that does
not answer is cut short with a log line naming it, and the sidecar still stops."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from server import shutdown
from server.app import create_app
from server.settings import Settings
from tests.support.helpers import LocalClient, loop_of
from tests.support.live import wait_until


async def test_a_step_that_finishes_in_time_is_awaited_to_its_end(caplog: pytest.LogCaptureFixture) -> None:
    finished: list[str] = []

    async def step() -> None:
        await asyncio.sleep(0.01)
        finished.append("done")

    with caplog.at_level(logging.WARNING, logger="server.shutdown"):
        assert await shutdown.bounded("a quick step", step(), 5.0)
    assert finished == ["done"]
    assert caplog.messages == []


async def test_a_step_that_ignores_its_cancellation_is_left_behind_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # a driver cleaning up over the network when cancelled behaves like this

    try:
        with caplog.at_level(logging.WARNING, logger="server.shutdown"):
            assert not await shutdown.bounded("a stubborn step", stubborn(), 0.05)
    finally:
        release.set()  # lets the step end, so that the test's event loop can close
    assert len(caplog.messages) == 1, caplog.messages
    # Named by where it waits: the innermost await of the step (here Event.wait).
    assert caplog.messages[0].startswith("shutdown: a stubborn step did not finish within 0.05 s (waiting in wait ("), (
        caplog.messages
    )
    assert caplog.messages[0].endswith("; left behind")


async def test_an_error_in_one_step_is_logged_and_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("the cache is gone")

    with caplog.at_level(logging.WARNING, logger="server.shutdown"):
        assert await shutdown.bounded("closing the cache backend", broken(), 5.0)
    assert caplog.messages == ["shutdown: closing the cache backend failed: RuntimeError('the cache is gone')"]


class LeaseRowLock:
    """Another connection (an operator's session, a stuck instance) holding the lease row, from a
    thread of its own, from `take()` until `release()`."""

    def __init__(self, database_url: str) -> None:
        self._url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._locked = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._hold(),), daemon=True)

    def take(self) -> None:
        self._thread.start()
        assert self._locked.wait(30), "the lease row could not be locked"

    def release(self) -> None:
        self._release.set()
        if self._thread.is_alive():
            self._thread.join(30)

    async def _hold(self) -> None:
        conn = await asyncpg.connect(self._url)
        try:
            async with conn.transaction():
                await conn.execute("SELECT * FROM sidecar_lease FOR UPDATE")
                self._locked.set()
                await asyncio.to_thread(self._release.wait, 120)
        finally:
            await conn.close()


@pytest.mark.timeout(90)  # before the bounds, this stop never finished
@pytest.mark.parametrize("stack", ["postgres-redis"], indirect=True)
def test_a_stop_while_another_connection_holds_the_lease_row_finishes_and_says_so(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    lock = LeaseRowLock(settings.database_url)
    try:
        with caplog.at_level(logging.WARNING, logger="server.shutdown"), LocalClient(create_app(settings)) as client:
            wait_until(lambda: loop_of(client).leadership.leading, 30, "the sidecar computes the snapshots")
            lock.take()
            time.sleep(0.5)  # the snapshot loop's renewal (twice an interval) is blocked behind it too
        # Leaving the client ran the lifespan's shutdown: releasing the lease waited on the row.
    finally:
        lock.release()
    # The release waits at most its lock_timeout (2 s, server/storage/lease.py) and fails, or the
    # step's own limit ends it: either way the stop goes on, and says so once.
    released = [
        m
        for m in caplog.messages
        if m.startswith(
            ("shutdown: releasing the snapshot lease did not finish", "shutdown: releasing the snapshot lease failed")
        )
    ]
    assert len(released) == 1, caplog.messages
