"""The async iterators for scripts without asyncio: a thread runs the event loop, a bounded queue
hands the items over.

    from metrics_client import MetricsClient

    for snapshot in MetricsClient("ws://localhost:3000/ws/metrics").iter_snapshots():
        print(snapshot["snapshotId"])
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

Item = TypeVar("Item")

_POLL = 0.1  # seconds between looks at `stopping` while the caller's queue is full


class _End:
    """The thread's last word: the iterator ended (error None) or raised `error`."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def iterate(start: Callable[[], AsyncIterator[Item]], *, buffer: int = 100) -> Iterator[Item]:
    """The items of `start()`, an async iterator run on its own event loop in a daemon thread.

    Its exceptions (`GaveUp`, `Refused`) are raised here. When the caller stops iterating,
    the generator's `finally` stops the thread, which closes the connection.
    """
    if buffer < 1:
        raise ValueError(f"buffer must be at least 1, got {buffer}")
    items: queue.Queue[Item | _End] = queue.Queue(maxsize=buffer)
    stopping = threading.Event()
    loop = asyncio.new_event_loop()

    async def pump() -> None:
        try:
            async for item in start():
                # A full queue means the caller is slow: wait for it (never drop an item), off the loop.
                while not stopping.is_set():
                    try:
                        items.put_nowait(item)
                        break
                    except queue.Full:
                        await asyncio.sleep(_POLL)
                if stopping.is_set():
                    return
        except asyncio.CancelledError:
            return
        except Exception as exc:  # handed to the caller's thread, raised there
            _put_end(items, _End(exc), stopping)
            return
        _put_end(items, _End(None), stopping)

    task_holder: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        task = loop.create_task(pump())
        task_holder.append(task)
        try:
            loop.run_until_complete(task)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="metrics-client-sync", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stopping.set()
        if thread.is_alive() and task_holder:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the thread is ending
                loop.call_soon_threadsafe(task_holder[0].cancel)
        thread.join(timeout=5)


def _put_end(items: queue.Queue[Item | _End], end: _End, stopping: threading.Event) -> None:
    while not stopping.is_set():
        try:
            items.put(end, timeout=_POLL)
            return
        except queue.Full:
            continue
