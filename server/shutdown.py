"""Stopping the sidecar in bounded steps: every step of the lifespan's shutdown gets a deadline.

A step that waits on the network (a database statement blocked behind another connection's lock,
a Redis server that stopped answering, a connection whose close waits on a busy server process)
would otherwise hold the whole shutdown forever: uvicorn never exits, a test never ends. Each
step runs as a task of its own, so that even a step whose cancellation itself waits (a driver
that cleans up over the network when cancelled) cannot hold the rest up: past its deadline it is
cancelled, given a moment to unwind, and then left behind with a log line naming it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

log = logging.getLogger("server.shutdown")

UNWIND_SECONDS = 1.0  # how long a step cancelled at its deadline may take to unwind before it is left behind


async def bounded(step: str, work: Awaitable[Any], seconds: float) -> bool:
    """Await `work` for at most `seconds`; True when it finished (an error it raised is logged, not
    raised: the next steps must still run), False when it was cut short."""
    task = asyncio.ensure_future(work)
    return await _settle(step, [task], seconds)


async def cancel_all(step: str, tasks: Iterable[asyncio.Task[Any]], seconds: float) -> bool:
    """Cancel `tasks` and wait at most `seconds` for them to end; False when some did not."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    return await _settle(step, pending, seconds)


async def _settle(step: str, tasks: Sequence[asyncio.Future[Any]], seconds: float) -> bool:
    if not tasks:
        return True
    # `asyncio.wait` never cancels what it waits for, so a step that ignores its cancellation
    # (or awaits something unbounded while unwinding) cannot outlast the deadline here.
    _, late = await asyncio.wait(tasks, timeout=seconds)
    if late:
        where = ", ".join(_where(task) for task in late)  # before cancelling: then it is unwinding
        for task in late:
            task.cancel()
        _, stuck = await asyncio.wait(late, timeout=UNWIND_SECONDS)
        for task in stuck:
            # Nobody awaits it again: its eventual outcome must not be reported as never retrieved.
            task.add_done_callback(_ignore_outcome)
        log.warning(
            "shutdown: %s did not finish within %g s (waiting in %s); %s",
            step,
            seconds,
            where,
            "left behind" if stuck else "cancelled",
        )
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("shutdown: %s failed: %r", step, task.exception())
    return not late


def _where(task: asyncio.Future[Any]) -> str:
    """Where a late task was waiting, for the log: the innermost frame of its chain of awaits."""
    awaiting: Any = task.get_coro() if isinstance(task, asyncio.Task) else None
    place = "?"
    while awaiting is not None:
        frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None)
        if frame is not None:
            place = f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})"
        awaiting = getattr(awaiting, "cr_await", None) or getattr(awaiting, "gi_yieldfrom", None)
    return place


def _ignore_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
