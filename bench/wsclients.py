"""A load-generating WebSocket client process for bench/fanout.py and bench/idle.py.

    python -m bench.wsclients --port 3000 --count 2500 --source 127.0.0.10

It opens `count` connections to ws://127.0.0.1:<port>/ws/metrics from the `source` address (the
`websockets` library's sans-I/O client on a plain asyncio protocol per connection: no task per
socket, so a few processes can hold 10,000 sockets and stay far from being the bottleneck; it
answers the server's keepalive pings). Then it talks to its parent over stdin/stdout:
  -> `connected <ok> <failed>`
  <- `window <start> <end>`   (Unix times; pushes whose `timestamp` falls inside are measured)
  -> `done`, after `end` plus a grace period, once the results are in the `--out` file (JSON).
For each push inside the window, a client records its time of receipt (minus the push's
`timestamp`) and the frame's size on the wire (header included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

_ID = re.compile(rb'"snapshotId":(\d+)')
_TIMESTAMP = re.compile(rb'"timestamp":"([^"]+)"')
GRACE = 3.0  # seconds after the window for the last pushes to arrive


class Measurements:
    """What every connection of this process saw inside the window."""

    def __init__(self) -> None:
        self.start = float("inf")
        self.end = float("-inf")
        self.frame_bytes = 0
        # snapshotId -> (its timestamp, receipt minus timestamp on each client that received it)
        self.pushes: dict[int, tuple[float, list[float]]] = {}
        self._times: dict[bytes, float] = {}  # the same push arrives on every socket: parse once

    def received(self, payload: bytes, now: float) -> None:
        found = _TIMESTAMP.search(payload)
        if found is None:
            return  # not a push (a pong, an error)
        stamp = found.group(1)
        pushed = self._times.get(stamp)
        if pushed is None:
            pushed = self._times[stamp] = datetime.fromisoformat(stamp.decode()).timestamp()
            if len(self._times) > 64:
                self._times.pop(next(iter(self._times)))
        if not self.start <= pushed < self.end:
            return
        size = len(payload)
        self.frame_bytes += size + (2 if size < 126 else 4 if size < 65536 else 10)
        ident = _ID.search(payload)
        key = int(ident.group(1)) if ident else -1
        push = self.pushes.get(key)
        if push is None:
            push = self.pushes[key] = (pushed, [])
        push[1].append(now - pushed)


class Client(asyncio.Protocol):
    def __init__(self, uri: str, measurements: Measurements, opened: asyncio.Future[bool]) -> None:
        self._conn = ClientProtocol(parse_uri(uri), max_size=None)
        self._measurements = measurements
        self._opened = opened
        self._transport: asyncio.Transport | None = None
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._conn.send_request(self._conn.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self._conn.receive_data(data)
        for event in self._conn.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self._measurements.received(bytes(event.data), now)
            elif isinstance(event, Response) and not self._opened.done():
                self.open = event.status_code == 101
                self._opened.set_result(self.open)
        self._flush()  # pongs to the server's keepalive pings

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if not self._opened.done():
            self._opened.set_result(False)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _flush(self) -> None:
        assert self._transport is not None
        for chunk in self._conn.data_to_send():
            if chunk:
                self._transport.write(chunk)


async def _open(
    loop: asyncio.AbstractEventLoop, uri: str, port: int, source: str, measurements: Measurements
) -> Client | None:
    for attempt in range(20):
        opened: asyncio.Future[bool] = loop.create_future()
        try:
            _, client = await loop.create_connection(
                lambda opened=opened: Client(uri, measurements, opened), "127.0.0.1", port, local_addr=(source, 0)
            )
            if await asyncio.wait_for(opened, 30):
                return client
            client.close()
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.05 * (attempt + 1))
    return None


async def _read_line() -> str:
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


async def run(port: int, count: int, source: str, path: str, parallel: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    uri = f"ws://127.0.0.1:{port}{path}"
    measurements = Measurements()
    gate = asyncio.Semaphore(parallel)

    async def one() -> Client | None:
        async with gate:
            return await _open(loop, uri, port, source, measurements)

    clients = [c for c in await asyncio.gather(*(one() for _ in range(count))) if c is not None]
    print(f"connected {len(clients)} {count - len(clients)}", flush=True)
    command = (await _read_line()).split()
    assert command[0] == "window", command
    measurements.start, measurements.end = float(command[1]), float(command[2])
    await asyncio.sleep(max(0.0, measurements.end + GRACE - time.time()))
    still_open = sum(1 for c in clients if c.open)
    for client in clients:
        client.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "clients": len(clients),
        "still_open": still_open,
        "frame_bytes": measurements.frame_bytes,
        "pushes": {
            str(k): [stamp, [round(x, 5) for x in offsets]] for k, (stamp, offsets) in measurements.pushes.items()
        },
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--source", default="127.0.0.1", help="local address to connect from")
    parser.add_argument("--path", default="/ws/metrics")
    parser.add_argument("--out", required=True, help="file for the results (JSON)")
    parser.add_argument("--parallel", type=int, default=64, help="handshakes in flight at once")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        result = asyncio.run(run(args.port, args.count, args.source, args.path, args.parallel))
    else:
        result = uvloop.run(run(args.port, args.count, args.source, args.path, args.parallel))
    Path(args.out).write_text(json.dumps(result))
    print("done", flush=True)


if __name__ == "__main__":
    main()
