"""`/ws/metrics` fuzzed over real uvicorn, on each stack: misbehaving clients never disturb a
well-behaved one, never break the server, and get the answers the README documents.

While one client reads snapshots, others send at the same time: random text, binary frames,
malformed JSON, unknown types, deeply nested JSON, frames over 64 KB and a flood of pings.
Pinned:
- every text or binary message under the frame limit, sent at a sane rate, gets exactly one
  reply (a `pong` for a ping, an `error` for anything else) and the connection stays open;
- a frame over 64 KB (counted in bytes, not characters) is closed with 1009; a flood with 1008;
- the server never closes with 1011 and any close it makes carries a documented code;
- the reading client sees every snapshot, consecutive `snapshotId`s without a gap, throughout;
- `GET /health` answers 200 throughout.

The payloads come from `random.Random(SEED)`, drawn before any client starts.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.settings import Settings
from tests.support.live import prometheus_value, serve, wait_until

SEED = 20261127
FRAME_LIMIT = 64 * 1024
DOCUMENTED_CLOSES = {1008, 1009, 4008}
ERROR_CODES = {"invalid_json", "invalid_message", "unknown_type"}
FLOOD_PINGS = 400  # past the 120-a-minute budget and as many refusals again


def _random_text(rng: random.Random) -> str:
    """Valid UTF-8: any code point but the surrogates, from ASCII to the astral planes."""
    limit = rng.choice([0x80, 0x800, 0x10000, 0x110000])
    points = (rng.randrange(limit) for _ in range(rng.randrange(0, 600)))
    return "".join(chr(p) for p in points if not 0xD800 <= p <= 0xDFFF)


def _nested(depth: int) -> list[str]:
    """JSON nested `depth` deep, every one inside the frame limit."""
    documents = [
        "[" * depth + "]" * depth,
        '{"a":' * depth + "1" + "}" * depth,
        '{"type":"ping","pad":' + "[" * depth + "]" * depth + "}",
    ]
    assert all(len(d.encode()) <= FRAME_LIMIT for d in documents)
    return documents


MALFORMED = [
    "",
    " ",
    "{",
    '{"type": "ping"',
    '{"type": "ping"}}',
    '{"type": "ping"} trailing',
    "{'type': 'ping'}",
    '{"type": ping}',
    '{"type": "ping",}',
    "[1, 2,",
    '"unterminated',
    "\x00",
    "NaN",
    '{"type": "pi\\ng"}',
    '{"type": "\\ud800"}',  # a lone surrogate, escaped: valid JSON, no valid text
    "\ufeff{}",
]
UNKNOWN = [
    {"type": "subscribe"},
    {"type": "PING"},
    {"type": "ping "},
    {"type": "auth", "token": "mt_nothing"},  # no tokens configured: not a request here
    {"type": "x" * 5000},
    {"type": 5},
    {"type": None},
    {"type": ["ping"]},
    {"type": {"ping": 1}},
    {"kind": "ping"},
    {},
    [],
    ["ping"],
    "ping",
    42,
    None,
    True,
]


@dataclass
class Outcome:
    """What one misbehaving client saw: replies to its messages, and how it was closed."""

    name: str
    replies: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None  # None: still open when the client left


def _reply(ws: ClientConnection) -> dict[str, Any]:
    """The next message that is not a pushed snapshot."""
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message.get("type") != "metrics":
            return message


def _close_code(closed: ConnectionClosed) -> int | None:
    return closed.rcvd.code if closed.rcvd is not None else None


def _one_by_one(address: str, name: str, messages: list[str | bytes]) -> Outcome:
    """Send each message and read its reply before the next, until all are sent or the server closes."""
    outcome = Outcome(name)
    with connect(f"ws://{address}/ws/metrics", max_size=None, compression=None) as ws:
        try:
            for message in messages:
                ws.send(message)
                outcome.replies.append(_reply(ws))
        except ConnectionClosed as closed:
            outcome.close_code = _close_code(closed)
    return outcome


def _too_big(address: str, name: str, frame: str | bytes) -> Outcome:
    """One frame over the limit; the server must close the connection."""
    outcome = Outcome(name)
    with connect(f"ws://{address}/ws/metrics", max_size=None, compression=None) as ws:
        try:
            ws.send(frame)
            while True:
                outcome.replies.append(_reply(ws))
        except ConnectionClosed as closed:
            outcome.close_code = _close_code(closed)
    return outcome


def _flood(address: str, name: str) -> Outcome:
    """Pings as fast as the socket takes them, without waiting for replies; then every reply, until closed."""
    outcome = Outcome(name)
    with connect(f"ws://{address}/ws/metrics", max_size=None, compression=None, max_queue=None) as ws:
        try:
            for _ in range(FLOOD_PINGS):
                ws.send('{"type":"ping"}')
        except ConnectionClosed:
            pass  # closed mid-flood: the close code is read below
        try:
            while True:
                outcome.replies.append(_reply(ws))
        except ConnectionClosed as closed:
            outcome.close_code = _close_code(closed)
    return outcome


def _fast_pings(address: str, name: str) -> Outcome:
    """Pings one after the other, each reply read before the next ping: only the rate limits it."""
    return _one_by_one(address, name, ['{"type":"ping"}'] * FLOOD_PINGS)


class _Reader(threading.Thread):
    """The well-behaved client: reads every snapshot until told to stop."""

    def __init__(self, address: str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.ids: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with connect(f"ws://{self.address}/ws/metrics", compression=None) as ws:
                while not self.stop.is_set():
                    message = json.loads(ws.recv(timeout=5))
                    assert message["type"] == "metrics", message
                    if not message["data"]["stale"]:  # a stale repeat when one is late on a busy machine
                        self.ids.append(message["data"]["snapshotId"])
        except BaseException as exc:
            self.error = exc


class _HealthWatch(threading.Thread):
    """`GET /health`, over and over, until told to stop."""

    def __init__(self, address: str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.answers: list[tuple[int, str]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(timeout=5) as http:
                while not self.stop.is_set():
                    response = http.get(f"http://{self.address}/health")
                    self.answers.append((response.status_code, response.json()["status"]))
                    time.sleep(0.05)
        except BaseException as exc:
            self.error = exc


def test_misbehaving_clients_get_documented_answers_and_never_disturb_a_reader(settings: Settings) -> None:
    rng = random.Random(SEED)
    random_texts: list[str | bytes] = [_random_text(rng) for _ in range(60)]
    binaries: list[str | bytes] = [rng.randbytes(rng.randrange(0, 2000)) for _ in range(30)]
    nested: list[str | bytes] = list(_nested(10_000))
    malformed: list[str | bytes] = list(MALFORMED)
    unknown: list[str | bytes] = [json.dumps(m) for m in UNKNOWN]
    at_the_limit = '{"type":"ping","pad":"' + "x" * (FRAME_LIMIT - 22 - 2) + '"}'
    assert len(at_the_limit.encode()) == FRAME_LIMIT
    over_limit: dict[str, str | bytes] = {
        "text over 64 KB": '{"type":"ping","pad":"' + "x" * FRAME_LIMIT + '"}',
        "text one byte over": at_the_limit[:-2] + 'x"}',
        "text over in bytes, under in characters": "€" * (FRAME_LIMIT // 3 + 1),  # 3 bytes each
        "binary one byte over": rng.randbytes(FRAME_LIMIT + 1),
    }
    assert all(len(f.encode() if isinstance(f, str) else f) > FRAME_LIMIT for f in over_limit.values())
    assert len(over_limit["text over in bytes, under in characters"]) < FRAME_LIMIT

    scenarios: list[Callable[[str], Outcome]] = [
        lambda a: _one_by_one(a, "random text", random_texts),
        lambda a: _one_by_one(a, "binary", binaries),
        lambda a: _one_by_one(a, "nested 10,000 deep", nested),
        lambda a: _one_by_one(a, "malformed JSON", malformed),
        lambda a: _one_by_one(a, "unknown types", unknown),
        lambda a: _one_by_one(a, "a frame of exactly 64 KB", [at_the_limit]),
        lambda a: _flood(a, "ping flood"),
        lambda a: _fast_pings(a, "fast pings"),
        *[lambda a, name=name, frame=frame: _too_big(a, name, frame) for name, frame in over_limit.items()],
    ]

    with serve(settings) as address:
        reader = _Reader(address)
        health = _HealthWatch(address)
        reader.start()
        health.start()
        wait_until(lambda: len(reader.ids) >= 3, timeout=10, message="the reader gets its first snapshots")
        with ThreadPoolExecutor(max_workers=len(scenarios)) as pool:
            outcomes = {o.name: o for o in pool.map(lambda scenario: scenario(address), scenarios)}
        seen_during_fuzz = len(reader.ids)
        wait_until(lambda: len(reader.ids) >= seen_during_fuzz + 5, timeout=10, message="snapshots keep coming")
        reader.stop.set()
        health.stop.set()
        reader.join(timeout=10)
        health.join(timeout=10)
        server_errors = prometheus_value(address, 'metrics_ws_closes_total{reason="error"}')

    # the reader: every snapshot, in order, none skipped, from start to end
    assert reader.error is None, reader.error
    assert reader.ids == list(range(reader.ids[0], reader.ids[0] + len(reader.ids)))
    # /health: up all along
    assert health.error is None, health.error
    assert len(health.answers) >= 10
    # Up all along: never down. (On a machine starved of CPU a late snapshot may be reported as
    # "degraded", which is the truth about freshness, not a disturbance by the fuzzing clients.)
    assert [answer for answer in health.answers if answer not in ((200, "ok"), (200, "degraded"))] == []
    assert health.answers.count((200, "ok")) >= len(health.answers) // 2

    # no server error, and every close the server made carries a documented code
    assert server_errors == 0.0
    closes = {name: o.close_code for name, o in outcomes.items() if o.close_code is not None}
    assert set(closes.values()) <= DOCUMENTED_CLOSES, closes

    for name, count in [
        ("random text", len(random_texts)),
        ("binary", len(binaries)),
        ("nested 10,000 deep", len(nested)),
        ("malformed JSON", len(malformed)),
        ("unknown types", len(unknown)),
    ]:
        outcome = outcomes[name]
        assert outcome.close_code is None, (name, outcome.close_code)  # the connection stays open
        assert len(outcome.replies) == count, name
        for reply in outcome.replies:
            assert reply["type"] == "error", (name, reply)
            assert reply["error"]["code"] in ERROR_CODES and isinstance(reply["error"]["message"], str), reply
    assert {r["error"]["code"] for r in outcomes["binary"].replies} == {"invalid_message"}
    assert {r["error"]["code"] for r in outcomes["nested 10,000 deep"].replies} == {"invalid_json"}
    assert outcomes["a frame of exactly 64 KB"].replies == [{"type": "pong"}]
    assert outcomes["a frame of exactly 64 KB"].close_code is None

    for name in over_limit:
        assert outcomes[name].close_code == 1009, (name, outcomes[name].close_code)
        assert outcomes[name].replies == [], name

    # a flood that does not wait for replies: 1008 (over 32 replies unread, or past the rate);
    # the replies that came before are pongs, or `rate_limited` errors
    flood = outcomes["ping flood"]
    assert flood.close_code == 1008
    assert {r["type"] if r["type"] == "pong" else r["error"]["code"] for r in flood.replies} <= {"pong", "rate_limited"}
    # pings that are read but come too fast: the budget, then as many `rate_limited` errors, then 1008
    budget = settings.socket_messages_per_minute
    fast = outcomes["fast pings"]
    kinds = [r["type"] if r["type"] == "pong" else r["error"]["code"] for r in fast.replies]
    assert fast.close_code == 1008
    assert kinds[:budget] == ["pong"] * budget, kinds
    # the budget refills by 2 a second meanwhile, so a late ping may still get its pong
    assert kinds.count("rate_limited") == budget and set(kinds) == {"pong", "rate_limited"}, kinds
