"""Direct fan-out: pushes written once as frame bytes to every healthy socket's transport.

The outbox rules come first (with a stand-in writer), then the path against real uvicorn.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace

import pytest
from starlette.testclient import TestClient
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State
from websockets.sync.client import connect

import server.wire
from server.hub import CloseRequest, Outbox
from server.settings import Settings
from server.wire import DirectWriter, text_frame
from tests.support.live import RawPeer, prometheus_value, serve, wait_until

FRAME = '{"type":"metrics","data":{"snapshotId":7}}'


class _Writer:
    """Stands in for a connection's DirectWriter: records frames, or refuses (a client behind)."""

    def __init__(self, accepts: bool = True) -> None:
        self.accepts = accepts
        self.frames: list[bytes] = []

    def write(self, frame: bytes) -> bool:
        if self.accepts:
            self.frames.append(frame)
        return self.accepts


def _outbox(writer: _Writer) -> tuple[Outbox, list[int]]:
    pushes: list[int] = []
    outbox = Outbox(4, direct=writer, on_push=lambda: pushes.append(1))  # type: ignore[arg-type]
    return outbox, pushes


def _push(snapshot_id: int) -> tuple[str, bytes]:
    frame = f'{{"type":"metrics","data":{{"snapshotId":{snapshot_id}}}}}'
    return frame, text_frame(frame.encode())


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_text_frame_is_what_a_client_parses_back_exactly(size: int) -> None:
    payload = ("x" * size).encode()
    client = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)  # frames only, no handshake
    client.receive_data(text_frame(payload))
    [frame] = client.events_received()
    assert isinstance(frame, Frame)
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)


async def test_an_idle_socket_that_keeps_up_is_written_directly_and_counted() -> None:
    writer = _Writer()
    outbox, pushes = _outbox(writer)
    for snapshot_id in (1, 2, 3):
        outbox.offer_snapshot(*_push(snapshot_id))
    assert writer.frames == [_push(1)[1], _push(2)[1], _push(3)[1]]
    assert pushes == [1, 1, 1]
    assert outbox.skipped == 0
    outbox.offer_reply('{"type":"pong"}')  # nothing else is left for the sender
    assert await outbox.next() == '{"type":"pong"}'


async def test_a_queued_reply_goes_out_before_the_next_snapshot() -> None:
    writer = _Writer()
    outbox, pushes = _outbox(writer)
    outbox.offer_reply('{"type":"pong"}')
    outbox.offer_snapshot(*_push(1))
    assert writer.frames == [] and pushes == []
    assert await outbox.next() == '{"type":"pong"}'
    # the sender is still writing the pong: the snapshot waits for it, in order
    outbox.offer_snapshot(*_push(2))
    assert writer.frames == []
    assert await outbox.next() == _push(2)[0]
    assert outbox.skipped == 1  # snapshot 1 was replaced by 2 while the pong was pending


async def test_while_the_sender_writes_a_frame_pushes_wait_for_it() -> None:
    writer = _Writer()
    outbox, _ = _outbox(writer)
    outbox.offer_reply('{"type":"history","data":[]}')
    assert await outbox.next() == '{"type":"history","data":[]}'
    outbox.offer_snapshot(*_push(5))  # the history frame is still being written
    assert writer.frames == []
    assert await outbox.next() == _push(5)[0]
    # the sender comes back for more: the socket is idle again, the next push goes direct
    waiting = asyncio.create_task(outbox.next())
    await asyncio.sleep(0)
    outbox.offer_snapshot(*_push(6))
    assert writer.frames == [_push(6)[1]]
    assert not waiting.done()
    waiting.cancel()


async def test_a_socket_behind_gets_only_the_newest_snapshot_through_its_sender() -> None:
    writer = _Writer(accepts=False)
    outbox, pushes = _outbox(writer)
    for snapshot_id in (1, 2, 3):
        outbox.offer_snapshot(*_push(snapshot_id))
    assert pushes == []
    assert outbox.skipped == 2
    assert await outbox.next() == _push(3)[0]


async def test_nothing_is_written_directly_once_a_close_is_asked_for() -> None:
    writer = _Writer()
    outbox, _ = _outbox(writer)
    outbox.close(1001)
    outbox.offer_snapshot(*_push(1))
    assert writer.frames == []
    assert await outbox.next() == CloseRequest(1001)


def test_an_outbox_without_a_writer_or_frame_bytes_queues_as_before() -> None:
    plain = Outbox(4)
    plain.offer_snapshot(*_push(1))
    plain.offer_snapshot(*_push(2))
    assert plain.skipped == 1
    writer = _Writer()
    outbox, _ = _outbox(writer)
    outbox.offer_snapshot(FRAME)  # no frame bytes: e.g. the snapshot sent on connect
    assert writer.frames == []


def test_the_testclient_has_no_transport_and_falls_back_to_asgi(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    found: list[DirectWriter | None] = []
    original = DirectWriter.of
    monkeypatch.setattr(DirectWriter, "of", classmethod(lambda cls, ws: found.append(original(ws)) or found[-1]))
    with client.websocket_connect("/ws/metrics") as ws:
        pushes = [json.loads(ws.receive_text())["data"] for _ in range(3)]
        while len({p["snapshotId"] for p in pushes}) < 3:  # a stale repeat on a busy machine
            pushes.append(json.loads(ws.receive_text())["data"])
    assert found == [None]
    ids = [p["snapshotId"] for p in pushes if not p["stale"]]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def _counting_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the frames DirectWriter actually writes (the server runs in this process)."""
    written: list[int] = []
    original = server.wire.DirectWriter.write

    def write(self: DirectWriter, frame: bytes) -> bool:
        done = original(self, frame)
        if done:
            written.append(len(frame))
        return done

    monkeypatch.setattr(server.wire.DirectWriter, "write", write)
    return written


def _frame_length(buffer: bytes) -> int | None:
    """Length of the whole server frame at the start of `buffer` (None: not all of it is there)."""
    if len(buffer) < 2:
        return None
    size, offset = buffer[1] & 0x7F, 2
    if size == 126:
        size, offset = (int.from_bytes(buffer[2:4], "big"), 4) if len(buffer) >= 4 else (0, 1 << 30)
    elif size == 127:
        size, offset = (int.from_bytes(buffer[2:10], "big"), 10) if len(buffer) >= 10 else (0, 1 << 30)
    return offset + size if len(buffer) >= offset + size else None


def _read_frames(sock: socket.socket, count: int) -> list[bytes]:
    """`count` whole server frames from a raw socket, each as its exact bytes (header included)."""
    buffer = b""
    frames: list[bytes] = []
    while len(frames) < count:
        length = _frame_length(buffer)
        if length is None:
            buffer += sock.recv(65536)
            continue
        frames.append(buffer[:length])
        buffer = buffer[length:]
    return frames


def test_real_uvicorn_writes_pushes_directly_as_exact_frames_to_every_client(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _counting_writes(monkeypatch)
    with serve(settings) as address:
        peers = [RawPeer(address) for _ in range(3)]
        assert [peer.status for peer in peers] == [101, 101, 101]
        received = [_read_frames(peer.sock, 6) for peer in peers]
        for frames in received:
            ids = []
            for raw in frames:
                assert raw[0] == 0x81 and raw[1] & 0x80 == 0  # one unmasked text frame
                payload = raw[2:] if raw[1] < 126 else raw[4:]
                assert raw == text_frame(payload)
                message = json.loads(payload)
                assert message["type"] == "metrics"
                if not message["data"]["stale"]:  # a stale repeat, when one is late on a busy machine
                    ids.append(message["data"]["snapshotId"])
            assert ids == list(range(ids[0], ids[0] + len(ids))) and len(ids) >= 4  # consecutive: none skipped
        # the same push is the same bytes for every client
        common = set.intersection(*(set(frames) for frames in received))
        assert len(common) >= 4
        assert len(written) >= 3 * 4
        wait_until(
            lambda: prometheus_value(address, "metrics_ws_pushes_total") >= len(written),
            timeout=5,
            message="direct pushes are counted",
        )
        for peer in peers:
            peer.close()


def test_replies_stay_in_order_between_direct_pushes_on_real_uvicorn(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _counting_writes(monkeypatch)
    settings = replace(settings, interval=0.02)  # pushes all the time, between and during replies
    with serve(settings) as address, connect(f"ws://{address}/ws/metrics") as ws:
        expected: list[str] = []
        for i in range(30):
            request = ("ping", "history", "nonsense")[i % 3]
            ws.send(json.dumps({"type": request}))
            expected.append({"ping": "pong", "history": "history", "nonsense": "error"}[request])
        replies: list[str] = []
        last_id = 0
        while len(replies) < len(expected):
            message = json.loads(ws.recv(timeout=5))
            if message["type"] == "metrics":
                # At a 20 ms interval a snapshot is often more than two intervals old: it is then
                # pushed again, marked stale, with the same id.
                data = message["data"]
                assert data["snapshotId"] > last_id or (data["stale"] and data["snapshotId"] == last_id)
                last_id = data["snapshotId"]
            else:
                replies.append(message["type"])
                if message["type"] == "history":
                    assert message["data"][-1]["snapshotId"] >= last_id  # never older than a push before it
        assert replies == expected
        for _ in range(5):  # the socket is idle again: pushes go the direct way, still in order
            message = json.loads(ws.recv(timeout=5))
            data = message["data"]
            assert message["type"] == "metrics"
            assert data["snapshotId"] > last_id or (data["stale"] and data["snapshotId"] == last_id)
            last_id = data["snapshotId"]
    assert written
