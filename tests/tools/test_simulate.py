"""The traffic simulator: valid, realistic, bounded traffic from a seed; a sender that resends only
what is safe to resend and never crashes; and traffic that lands exactly in the sidecar's numbers.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from server.events import validate_events
from tools.simulate import EventSender, SendStats, TrafficModel, TrafficProfile, main, run_simulation

START = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
Batch = list[dict[str, Any]]


def _simulate(
    seconds: int, profile: TrafficProfile | None = None, seed: int = 7, step: float = 1.0
) -> tuple[TrafficModel, list[tuple[datetime, Batch]]]:
    model = TrafficModel(random.Random(seed), START, profile, run_id="test")
    ticks = []
    for n in range(1, int(seconds / step) + 1):
        now = START + timedelta(seconds=n * step)
        ticks.append((now, model.tick(now)))
    return model, ticks


@pytest.fixture(scope="module")
def hour() -> list[tuple[datetime, Batch]]:
    """A simulated hour at the default profile, one tick per second."""
    return _simulate(3600)[1]


def _events(ticks: list[tuple[datetime, Batch]]) -> Batch:
    return [event for _, batch in ticks for event in batch]


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["at"])


def _transactions(events: Batch) -> tuple[Batch, Batch]:
    """(creations, status changes) among the transaction events."""
    transactions = [e for e in events if e["type"] == "transaction"]
    return [e for e in transactions if "amount" in e], [e for e in transactions if "amount" not in e]


def test_every_event_passes_the_contracts_validation_in_time_order(hour: list[tuple[datetime, Batch]]) -> None:
    previous = START
    for now, batch in hour:
        validated = validate_events(
            {"events": batch}, now=now, currency="USD", max_events=1000, future_tolerance=timedelta(minutes=5)
        )
        assert len(validated) == len(batch)
        times = [event.at for event in validated]
        assert all(t is not None and previous <= t <= now for t in times)
        assert times == sorted(times)  # type: ignore[type-var]
        previous = now


def test_activity_and_views_carry_unique_event_ids_and_transactions_unique_ids(
    hour: list[tuple[datetime, Batch]],
) -> None:
    events = _events(hour)
    keyed = [e["eventId"] for e in events if e["type"] != "transaction"]
    assert len(keyed) == len(set(keyed)) == len([e for e in events if e["type"] != "transaction"])
    creations, _ = _transactions(events)
    assert len({e["id"] for e in creations}) == len(creations)


def test_the_rate_is_roughly_the_one_asked_for(hour: list[tuple[datetime, Batch]]) -> None:
    # All kinds together; the number of users online drifts around its mean, so does the rate.
    assert 20 * 0.95 <= len(_events(hour)) / 3600 <= 20 * 1.05


def test_between_three_and_five_percent_of_views_convert(hour: list[tuple[datetime, Batch]]) -> None:
    events = _events(hour)
    views = [e for e in events if e["type"] == "content_view"]
    creations, _ = _transactions(events)
    assert 0.03 <= len(creations) / len(views) <= 0.05
    assert any("userId" not in v for v in views)  # anonymous visitors view too


def test_content_popularity_is_skewed(hour: list[tuple[datetime, Batch]]) -> None:
    views = Counter(e["contentId"] for e in _events(hour) if e["type"] == "content_view")
    top_ten = sum(count for _, count in views.most_common(10))
    assert top_ten / sum(views.values()) > 0.3  # Zipf: ten items of 500 get a third of the views
    assert len(views) > 250  # and the long tail is still viewed


def test_most_transactions_end_completed_some_failed(hour: list[tuple[datetime, Batch]]) -> None:
    final: dict[str, str] = {}
    for event in _events(hour):
        if event["type"] == "transaction":
            final[event["id"]] = event["status"]
    outcome = Counter(final.values())
    assert outcome["completed"] / len(final) >= 0.9
    assert outcome["failed"] > 0
    for event in _events(hour):
        if event["type"] == "transaction" and "amount" in event:
            amount = Decimal(event["amount"])
            assert Decimal("4.99") <= amount <= Decimal("199.00") and amount == amount.quantize(Decimal("0.01"))


def test_pending_transactions_are_moved_later_by_an_event_with_only_id_and_status(
    hour: list[tuple[datetime, Batch]],
) -> None:
    creations, changes = _transactions(_events(hour))
    created = {e["id"]: e for e in creations}
    pending = [e for e in creations if e["status"] == "pending"]
    assert len(pending) > 100
    assert {e["status"] for e in changes} == {"completed", "failed"}
    for change in changes:
        assert set(change) == {"type", "id", "status", "at"}
        origin = created[change["id"]]
        assert origin["status"] == "pending"
        assert _at(origin) < _at(change)
    moved = {e["id"] for e in changes}
    assert len(moved) == len(changes)  # each is moved once
    # Settlement takes at most a minute: only the last minute's pending ones are still waiting.
    waiting = [e for e in pending if e["id"] not in moved]
    assert all(_at(e) >= START + timedelta(seconds=3600 - 60) for e in waiting)


def test_finishing_a_run_settles_every_pending_transaction() -> None:
    model, ticks = _simulate(300)
    assert model.pending_transactions > 0
    end = START + timedelta(seconds=300)
    last = model.finish(end)
    assert model.pending_transactions == 0
    creations, changes = _transactions(_events(ticks) + last)
    pending = {e["id"] for e in creations if e["status"] == "pending"}
    assert sorted(e["id"] for e in changes) == sorted(pending)
    assert all(_at(e) <= end for e in last)


def test_the_same_seed_gives_the_same_traffic_and_run_ids_keep_runs_apart() -> None:
    first = _simulate(120)[1]
    assert first == _simulate(120)[1]
    assert first != _simulate(120, seed=8)[1]
    other_run = TrafficModel(random.Random(7), START, run_id="other")
    again = [other_run.tick(now) for now, _ in first]
    assert [len(batch) for batch in again] == [len(batch) for _, batch in first]
    ids = {e.get("eventId") or e["id"] for batch in again for e in batch}
    assert ids.isdisjoint({e.get("eventId") or e["id"] for _, batch in first for e in batch})


def test_memory_stays_bounded_when_the_rate_outgrows_the_caps() -> None:
    profile = TrafficProfile(rate=500, max_users=50, max_pending=10, pending_share=0.5, settle_delay=(50, 60))
    model = TrafficModel(random.Random(3), START, profile, run_id="test")
    saw_full = False
    for n in range(1, 241):
        model.tick(START + timedelta(seconds=n))
        assert model.online_users <= 50
        assert model.pending_transactions <= 10
        saw_full = saw_full or (model.online_users == 50 and model.pending_transactions == 10)
    assert saw_full


def test_a_long_gap_is_skipped_not_replayed() -> None:
    """After an outage the next tick covers `max_step` seconds, not the hours missed."""
    model, _ = _simulate(60)
    now = START + timedelta(hours=3)
    batch = model.tick(now)
    assert 0 < len(batch) <= 30 * 20 * 1.5
    validated = validate_events(
        {"events": batch}, now=now, currency="USD", max_events=1000, future_tolerance=timedelta(minutes=5)
    )
    assert all(e.at is not None and e.at >= now - timedelta(seconds=30) for e in validated)
    assert model.tick(now) == []  # the same instant again gives nothing


# -- the sender ---------------------------------------------------------------------------------

EVENTS: Batch = [
    {"type": "user_activity", "userId": "user-00001", "eventId": "e-1"},
    {"type": "content_view", "contentId": "content-0001", "eventId": "e-2"},
]


def _replaying(answers: list[httpx.Response | Exception]) -> tuple[httpx.MockTransport, list[bytes]]:
    bodies: list[bytes] = []
    pending = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url == "http://sidecar/api/v1/events"
        bodies.append(request.content)
        answer = next(pending)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), bodies


def _unavailable(retry_after: str) -> httpx.Response:
    body = {"error": {"code": "unavailable", "message": "the database cannot be reached"}}
    return httpx.Response(503, json=body, headers={"Retry-After": retry_after})


async def test_the_sender_resends_the_same_batch_after_a_network_error_and_a_503() -> None:
    transport, bodies = _replaying(
        [httpx.ConnectError("connection refused"), _unavailable("2"), httpx.Response(200, json=_answer(1, 1))]
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    log = io.StringIO()
    async with httpx.AsyncClient(transport=transport) as client:
        sender = EventSender(client, "http://sidecar/", log=log, sleep=sleep)
        await sender.send(EVENTS)
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert json.loads(bodies[0]) == {"events": EVENTS}
    assert waits == [0.5, 2.0]  # backoff 0.5 s, then Retry-After (2 s) over the doubled 1 s
    assert sender.stats == SendStats(sent=2, accepted=1, duplicates=1, retries=2)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert "ConnectError" in lines[0] and "HTTP 503 unavailable" in lines[1]


def _answer(accepted: int, duplicates: int) -> dict[str, int]:
    return {"accepted": accepted, "duplicates": duplicates}


async def test_the_sender_drops_a_batch_the_sidecar_refuses_and_goes_on() -> None:
    conflict = {"error": {"code": "conflict", "message": "events contradict stored transactions"}}
    transport, bodies = _replaying([httpx.Response(409, json=conflict), httpx.Response(200, json=_answer(2, 0))])
    log = io.StringIO()
    async with httpx.AsyncClient(transport=transport) as client:
        sender = EventSender(client, "http://sidecar", log=log)
        await sender.send(EVENTS)
        await sender.send(EVENTS)
    assert len(bodies) == 2
    assert sender.stats == SendStats(sent=2, accepted=2, rejected=2)
    assert "HTTP 409 conflict: events contradict stored transactions" in log.getvalue()


async def test_the_sender_splits_what_the_contract_allows_per_request() -> None:
    many = [{"type": "user_activity", "userId": "u", "eventId": f"e-{n}"} for n in range(2500)]
    answers: list[httpx.Response | Exception] = [httpx.Response(200, json=_answer(n, 0)) for n in (1000, 1000, 500)]
    transport, bodies = _replaying(answers)
    async with httpx.AsyncClient(transport=transport) as client:
        sender = EventSender(client, "http://sidecar", log=io.StringIO())
        await sender.send(many)
    assert [len(json.loads(body)["events"]) for body in bodies] == [1000, 1000, 500]
    assert sender.stats == SendStats(sent=2500, accepted=2500)


async def test_the_sender_stops_retrying_at_the_deadline() -> None:
    transport, bodies = _replaying([_unavailable("1")])
    async with httpx.AsyncClient(transport=transport) as client:
        sender = EventSender(client, "http://sidecar", log=io.StringIO(), monotonic=lambda: 100.0)
        await sender.send(EVENTS, deadline=100.2)
    assert len(bodies) == 1
    assert sender.stats == SendStats(unsent=2)


async def test_stopping_a_run_delivers_the_outcome_of_every_pending_transaction() -> None:
    delivered: Batch = []

    def handler(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        delivered.extend(events)
        return httpx.Response(200, json=_answer(len(events), 0))

    profile = TrafficProfile(rate=200, conversion=0.3, pending_share=0.9, settle_delay=(30, 60))
    model = TrafficModel(random.Random(5), datetime.now(UTC), profile, run_id="stop")
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sender = EventSender(client, "http://sidecar", log=io.StringIO())
        run = asyncio.create_task(run_simulation(model, sender, batch_interval=0.05))
        await asyncio.sleep(0.3)
        run.cancel()  # what Ctrl-C does to the running simulation
        with pytest.raises(asyncio.CancelledError):
            await run
    creations, changes = _transactions(delivered)
    assert model.pending_transactions == 0
    assert sorted(e["id"] for e in changes) == sorted(e["id"] for e in creations if e["status"] == "pending")
    assert changes and sender.stats == SendStats(sent=len(delivered), accepted=len(delivered))


def test_the_command_survives_a_sidecar_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    # --rate 200: the demo's own rate may send nothing in 1.5 s; at any hour's weight this sends dozens.
    argv = ["--url", "http://127.0.0.1:9", "--rate", "200", "--duration", "1.5", "--batch-interval", "0.1"]
    assert main([*argv, "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert "ConnectError" in err and "sending the same" in err
    assert "done: 0 events sent" in err and "unsent" in err


def test_the_command_refuses_a_url_it_cannot_send_to(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "localhost:3000", "--duration", "1"]) == 2
    assert "must start with http:// or https://" in capsys.readouterr().err


def test_the_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--url", "--rate", "--duration", "--seed", "--batch-interval", "METRICS_API_URL"):
        assert option in out


# -- against the real sidecar -------------------------------------------------------------------


class _ThroughTestClient(httpx.AsyncBaseTransport):
    """Hands each request to the TestClient, whose own event loop runs the app and its lifespan.

    (The app's engine and backend belong to that loop; calling the app from the test's loop
    directly would share asyncpg connections across loops.) Records every batch it delivers.
    """

    def __init__(self, client: TestClient) -> None:
        self._client = client
        self.delivered: Batch = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        answer = await asyncio.to_thread(
            self._client.request,
            request.method,
            request.url.path,
            content=body,
            headers={"content-type": "application/json"},
        )
        if answer.status_code == 200:
            self.delivered.extend(json.loads(body)["events"])
        return httpx.Response(answer.status_code, json=answer.json())


async def _snapshot_after(client: TestClient, snapshot_id: int) -> dict[str, Any]:
    for _ in range(200):
        answer = await asyncio.to_thread(client.get, "/api/v1/analytics/realtime-metrics")
        snapshot: dict[str, Any] = json.loads(answer.content, parse_float=Decimal)
        if snapshot["snapshotId"] > snapshot_id:
            return snapshot
        await asyncio.sleep(0.05)
    raise AssertionError(f"no snapshot after {snapshot_id} within 10 s")


async def test_simulated_traffic_lands_exactly_in_the_snapshot(client: TestClient) -> None:
    transport = _ThroughTestClient(client)
    profile = TrafficProfile(rate=200, conversion=0.3, pending_share=0.5, settle_delay=(0.05, 0.4))
    model = TrafficModel(random.Random(11), datetime.now(UTC), profile, run_id="e2e")
    async with httpx.AsyncClient(transport=transport) as http:
        sender = EventSender(http, "http://sidecar", log=io.StringIO())
        stats = await run_simulation(model, sender, batch_interval=0.1, duration=1.0)

    sent = transport.delivered
    assert stats == SendStats(sent=len(sent), accepted=len(sent))
    # Acknowledged events show in the next snapshot computed after the answer: the one after the
    # snapshot current now may have started before the last answer, the one after that has not.
    current = json.loads((await asyncio.to_thread(client.get, "/api/v1/analytics/realtime-metrics")).content)
    snapshot = await _snapshot_after(client, current["snapshotId"] + 1)

    final: dict[str, str] = {}
    amounts: dict[str, Decimal] = {}
    for event in sent:
        if event["type"] == "transaction":
            final[event["id"]] = event["status"]
            if "amount" in event:
                amounts[event["id"]] = Decimal(event["amount"])
    outcome = Counter(final.values())
    # A run that ends settles what is still pending: nothing stays pending forever.
    assert outcome["completed"] > 0 and outcome["pending"] == 0 and model.pending_transactions == 0
    assert any(e["type"] == "transaction" and "amount" not in e for e in sent)
    assert set(amounts) == set(final)  # every id was created in this run
    assert snapshot["transactions"] == {
        "total": len(final),
        "pending": outcome["pending"],
        "completed": outcome["completed"],
        "failed": outcome["failed"],
    }
    assert snapshot["revenue"]["total"] == sum(amounts[i] for i, status in final.items() if status == "completed")
    assert snapshot["content"]["totalViews"] == sum(1 for e in sent if e["type"] == "content_view")
    assert snapshot["content"]["totalPurchases"] == outcome["completed"]
    assert snapshot["activeUsers"]["current"] == len({e["userId"] for e in sent if "userId" in e})
