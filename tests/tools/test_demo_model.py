"""The demo's one traffic model, pure: seeded days and a live day agree, and failure episodes make
the failed-transactions alert fire and resolve instead of staying on.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from server.alerts.evaluate import AlertEvaluator
from server.alerts.rules import DEFAULT_RULES
from tools.demo import build_demo_history
from tools.simulate import DEMO_RATE, TrafficModel, demo_profile
from tools.simulate.cli import build_parser

ZONE = ZoneInfo("Europe/Berlin")
TODAY = datetime(2026, 3, 18, tzinfo=ZONE)  # a Wednesday, local midnight
SEEDED_DAYS = 28
_CENT = Decimal("0.01")


def _revenue_by_hour(completions: list[tuple[datetime, Decimal]], day: datetime) -> list[Decimal]:
    """Revenue of the local day `day` from midnight up to each whole hour 1..24."""
    return [
        sum((amount for at, amount in completions if day <= at < day + timedelta(hours=hour)), Decimal(0))
        for hour in range(1, 25)
    ]


def test_the_simulator_runs_the_demo_historys_model_by_default() -> None:
    args = build_parser().parse_args([])
    assert args.rate == DEMO_RATE and args.timezone == ZoneInfo("UTC")
    assert demo_profile(ZONE) == demo_profile(ZONE, rate=DEMO_RATE)


def test_a_live_days_revenue_by_each_hour_lies_within_the_seeded_days_range() -> None:
    """The README's promise: today's revenue by this hour is between the lowest and the highest
    revenue by the same hour of the seeded days before it (here, 28 of them)."""
    history = build_demo_history(TODAY.astimezone(UTC), random.Random(3), SEEDED_DAYS, zone=ZONE)
    seeded = [(row["completed_at"], row["amount"]) for row in history.transactions if row["completed_at"]]
    days = [TODAY - timedelta(days=n) for n in range(1, SEEDED_DAYS + 1)]
    by_day = [_revenue_by_hour(seeded, day) for day in days]

    # Live: a separate run of the simulator (its own seed) starting at today's midnight.
    live = TrafficModel(random.Random(99), TODAY.astimezone(UTC), demo_profile(ZONE), run_id="live")
    created: dict[str, Decimal] = {}
    completions: list[tuple[datetime, Decimal]] = []
    moment = TODAY.astimezone(UTC)
    while moment < (TODAY + timedelta(days=1)).astimezone(UTC):
        moment += timedelta(seconds=30)
        for event in live.tick(moment):
            if event["type"] != "transaction":
                continue
            if "amount" in event:
                created[event["id"]] = Decimal(event["amount"])
            if event["status"] == "completed":
                completions.append((datetime.fromisoformat(event["at"]), created[event["id"]]))
    today = _revenue_by_hour(completions, TODAY)

    for hour in range(6, 25):  # from the morning on; the night's few purchases are all or nothing
        low = min(day[hour - 1] for day in by_day)
        high = max(day[hour - 1] for day in by_day)
        assert low <= today[hour - 1] <= high, f"by {hour}:00, {today[hour - 1]} not in [{low}, {high}]"
    # And the seeded days are alike too: the busiest day makes at most about three times the quietest.
    totals = [day[-1] for day in by_day]
    assert 0 < max(totals) <= 3 * min(totals)


def _failed_alert_transitions(seed: int, start: datetime) -> list[tuple[datetime, str]]:
    """One simulated hour from `start` (after an hour that fills the window), the default rules
    evaluated every second on the failed share of the last 15 minutes, as the sidecar computes it."""
    model = TrafficModel(random.Random(seed), start - timedelta(hours=1), demo_profile(ZoneInfo("UTC")), run_id="t")
    created: dict[str, datetime] = {}
    status: dict[str, str] = {}
    evaluator = AlertEvaluator(DEFAULT_RULES)
    firing: set[str] = set()
    transitions: list[tuple[datetime, str]] = []
    moment = start - timedelta(hours=1)
    while moment < start + timedelta(hours=1):
        moment += timedelta(seconds=1)
        for event in model.tick(moment):
            if event["type"] == "transaction":
                created.setdefault(event["id"], datetime.fromisoformat(event["at"]))
                status[event["id"]] = event["status"]
        if moment <= start:
            continue
        window = [tid for tid, at in created.items() if moment - timedelta(minutes=15) < at <= moment]
        share = None
        if window:
            failed = sum(status[tid] == "failed" for tid in window)
            share = (Decimal(failed) * 100 / len(window)).quantize(_CENT, ROUND_HALF_UP)
        for transition in evaluator.step(firing, {"failedShareLast15Minutes": share}):
            if transition.rule.name == "failed-transactions":
                transitions.append((moment, transition.state))
                (firing.add if transition.state == "firing" else firing.discard)(transition.rule.name)
    return transitions


SATURDAY_EVENING = datetime(2026, 3, 21, 19, 0, tzinfo=UTC)


def test_a_simulated_hour_holds_a_failed_transactions_alert_that_fires_and_resolves() -> None:
    transitions = _failed_alert_transitions(15, SATURDAY_EVENING)
    states = [state for _, state in transitions]
    assert "firing" in states and "resolved" in states[states.index("firing") :]


def test_failure_episodes_make_the_alert_come_and_go_not_stay_on() -> None:
    """Over ten evening hours: in several an alert both fires and resolves, and none stays on
    for more than half an hour (the window is 15 minutes, an episode at most 8)."""
    both = 0
    for seed in range(10):
        transitions = _failed_alert_transitions(seed, SATURDAY_EVENING)
        states = [state for _, state in transitions]
        both += "firing" in states and "resolved" in states[states.index("firing") :]
        fired_at = None
        for at, state in transitions:
            if state == "firing":
                fired_at = at
            elif fired_at is not None:
                assert at - fired_at <= timedelta(minutes=30)
                fired_at = None
        if fired_at is not None:  # still on at the end of the hour: it fired late in it
            assert SATURDAY_EVENING + timedelta(hours=1) - fired_at <= timedelta(minutes=30)
    assert both >= 4
