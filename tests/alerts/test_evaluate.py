"""Hysteresis over crafted sequences: each crossing fires once and resolves once."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from server.alerts.evaluate import AlertEvaluator, snapshot_values
from server.alerts.rules import Rule, parse_rules

FAILED = Rule("failed", "failedShareLastHour", "above", Decimal(5), Decimal(4))
DROP = Rule("drop", "revenueTodayVsLastWeek", "below", Decimal(-30), Decimal(-25))


def run(rules: tuple[Rule, ...], sequence: Iterable[dict[str, Decimal | None]]) -> list[tuple[int, str, str]]:
    """Feed values one snapshot at a time, keeping the firing set as the database would."""
    evaluator = AlertEvaluator(rules)
    firing: set[str] = set()
    seen: list[tuple[int, str, str]] = []
    for step, values in enumerate(sequence):
        for transition in evaluator.step(firing, values):
            seen.append((step, transition.rule.name, transition.state))
            (firing.add if transition.state == "firing" else firing.discard)(transition.rule.name)
    return seen


def shares(*values: str | None) -> list[dict[str, Decimal | None]]:
    return [{"failedShareLastHour": None if v is None else Decimal(v)} for v in values]


def test_a_value_wobbling_inside_the_band_fires_once_and_resolves_once() -> None:
    sequence = shares("1", "5", "5.01", "4.5", "6", "4.01", "5.5", "4", "4.5", "4.99")
    assert run((FAILED,), sequence) == [(2, "failed", "firing"), (7, "failed", "resolved")]


def test_the_threshold_itself_does_not_fire_and_clear_itself_resolves() -> None:
    assert run((FAILED,), shares("5", "5")) == []
    assert run((FAILED,), shares("9", "4.01", "4")) == [(0, "failed", "firing"), (2, "failed", "resolved")]


def test_it_fires_again_after_resolving_when_the_value_crosses_again() -> None:
    sequence = shares("6", "3", "6", "6", "3")
    assert run((FAILED,), sequence) == [
        (0, "failed", "firing"),
        (1, "failed", "resolved"),
        (2, "failed", "firing"),
        (4, "failed", "resolved"),
    ]


def test_for_needs_that_many_breaching_snapshots_in_a_row() -> None:
    rule = Rule("failed", "failedShareLastHour", "above", Decimal(5), Decimal(4), for_snapshots=3)
    sequence = shares("6", "6", "4.5", "6", "6", "6", "6", "1")
    assert run((rule,), sequence) == [(5, "failed", "firing"), (7, "failed", "resolved")]


def test_below_rules_mirror_above_rules() -> None:
    sequence = [{"revenueTodayVsLastWeek": Decimal(v)} for v in ("-10", "-31", "-40", "-26", "-25.5", "-25", "-35")]
    assert run((DROP,), sequence) == [(1, "drop", "firing"), (5, "drop", "resolved"), (6, "drop", "firing")]


def test_a_missing_value_changes_nothing() -> None:
    assert run((FAILED,), shares("6", None, None, "1")) == [(0, "failed", "firing"), (3, "failed", "resolved")]
    rule = Rule("failed", "failedShareLastHour", "above", Decimal(5), Decimal(4), for_snapshots=2)
    assert run((rule,), shares("6", None, "6")) == [(2, "failed", "firing")]


def test_an_instance_taking_over_resolves_what_another_fired() -> None:
    # The firing set comes from the database, so a fresh evaluator (a new leader) continues.
    evaluator = AlertEvaluator((FAILED,))
    [transition] = evaluator.step({"failed"}, {"failedShareLastHour": Decimal(1)})
    assert (transition.rule.name, transition.state, transition.value) == ("failed", "resolved", Decimal(1))
    assert evaluator.step({"failed"}, {"failedShareLastHour": Decimal(9)}) == []


def test_rules_are_independent() -> None:
    sequence = [
        {"failedShareLastHour": Decimal(6), "revenueTodayVsLastWeek": Decimal(0)},
        {"failedShareLastHour": Decimal(6), "revenueTodayVsLastWeek": Decimal(-50)},
        {"failedShareLastHour": Decimal(1), "revenueTodayVsLastWeek": Decimal(-50)},
    ]
    assert run((FAILED, DROP), sequence) == [(0, "failed", "firing"), (1, "drop", "firing"), (2, "failed", "resolved")]


def test_snapshot_values_name_every_number_by_its_path() -> None:
    data = {
        "revenue": {"total": Decimal("10.50"), "today": Decimal(0)},
        "activeUsers": {"current": 4},
        "content": {"conversionRate": Decimal("4.30")},
        "timestamp": "2026-11-27T10:00:00.000Z",
        "snapshotId": 7,
        "stale": False,
    }
    values = snapshot_values(data, {"computeSeconds": Decimal("0.012")})
    assert values == {
        "revenue.total": Decimal("10.50"),
        "revenue.today": Decimal(0),
        "activeUsers.current": Decimal(4),
        "content.conversionRate": Decimal("4.30"),
        "failedShareLastHour": None,
        "failedShareLast15Minutes": None,
        "revenueTodayVsLastWeek": None,
        "computeSeconds": Decimal("0.012"),
    }


def test_pace_figures_are_named_by_their_dotted_path_and_a_rule_can_use_them() -> None:
    data = {
        "revenue": {"today": Decimal("50.00")},
        "snapshotId": 7,
        "pace": {
            "revenue": {"yesterday": Decimal("4100.00"), "lastWeek": Decimal("3900.00")},
            "activeUsers": {"yesterday": 1100, "lastWeek": 1180},
        },
    }
    values = snapshot_values(data, {})
    assert {name: value for name, value in values.items() if name.startswith("pace.")} == {
        "pace.revenue.yesterday": Decimal("4100.00"),
        "pace.revenue.lastWeek": Decimal("3900.00"),
        "pace.activeUsers.yesterday": Decimal(1100),
        "pace.activeUsers.lastWeek": Decimal(1180),
    }
    (rule,) = parse_rules({"rules": [{"name": "slow-day", "metric": "pace.revenue.yesterday", "above": 4000}]})
    assert [(t.rule.name, t.state, t.value) for t in AlertEvaluator((rule,)).step(set(), values)] == [
        ("slow-day", "firing", Decimal("4100.00"))
    ]
