"""When the sidecar settles its heap: after a large change in sockets, or a period; never below a size."""

from __future__ import annotations

import gc
import weakref

from server.heap import HeapSettler


def test_it_settles_when_the_sockets_change_by_a_quarter_or_a_period_passed() -> None:
    settler = HeapSettler(period=300.0, change=0.25, min_sockets=500)
    start = settler._settled_at
    assert not settler.due(499, start + 1)  # small: a full collection is short anyway
    assert settler.due(500, start + 1)  # from 0 to 500: a change
    settler._sockets = 10_000
    assert not settler.due(10_000, start + 299)
    assert not settler.due(7_600, start + 1)  # down 24 %
    assert settler.due(7_500, start + 1)  # down 25 %
    assert settler.due(12_500, start + 1)  # up 25 %
    assert settler.due(10_000, start + 300)  # the period


def test_settling_collects_garbage_and_freezes_what_is_left() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    settler = HeapSettler(min_sockets=1)
    try:
        garbage = Node()
        garbage.other = Node()
        garbage.other.other = garbage  # a cycle: only the cyclic collector frees it
        gone = weakref.ref(garbage)
        kept = Node()
        kept.other = kept
        settler.settle(sockets=1000)  # `kept` is alive: it is frozen
        assert gc.get_freeze_count() > 0
        del garbage
        assert gone() is not None  # nothing collected it yet
        frozen_cycle = weakref.ref(kept)
        del kept
        settler.settle(sockets=1000)  # the next settling collects what died since, frozen or not
        assert gone() is None and frozen_cycle() is None
        assert not settler.due(1000, settler._settled_at + 1)
    finally:
        gc.unfreeze()
