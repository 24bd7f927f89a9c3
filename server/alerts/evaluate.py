"""Hysteresis, pure: values in, transitions out. A rule fires once when its value has been beyond
the threshold for `for` snapshots in a row, and resolves once when the value is back past `clear`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from server.alerts.rules import SIGNALS, Rule

State = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Transition:
    rule: Rule
    state: State
    value: Decimal


class AlertEvaluator:
    """Keeps how many snapshots in a row each rule has been breached; nothing else.

    Which rules are firing is passed in on every step (the database keeps it), so that an
    instance taking over the computation continues where the previous one left off.
    """

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self._streaks: dict[str, int] = {}

    def step(self, firing: Collection[str], values: Mapping[str, Decimal | None]) -> list[Transition]:
        transitions: list[Transition] = []
        for rule in self.rules:
            value = values.get(rule.metric)
            if value is None:  # nothing to judge by (no transactions in the hour, say): no change
                continue
            if rule.name in firing:
                self._streaks[rule.name] = 0
                if rule.cleared(value):
                    transitions.append(Transition(rule, "resolved", value))
                continue
            streak = self._streaks.get(rule.name, 0) + 1 if rule.breached(value) else 0
            self._streaks[rule.name] = streak
            if streak >= rule.for_snapshots:
                self._streaks[rule.name] = 0
                transitions.append(Transition(rule, "firing", value))
        return transitions


def snapshot_values(data: Mapping[str, Any], signals: Mapping[str, Decimal | None]) -> dict[str, Decimal | None]:
    """Every metric a rule may name: the snapshot's numbers by dotted path (`pace.revenue.yesterday`
    included), plus the extra signals."""
    values: dict[str, Decimal | None] = {}

    def walk(fields: Mapping[str, Any], prefix: str) -> None:
        for name, value in fields.items():
            if isinstance(value, Mapping):
                walk(value, f"{prefix}{name}.")
            elif isinstance(value, (int, Decimal)) and not isinstance(value, bool) and prefix:
                values[f"{prefix}{name}"] = Decimal(value)

    walk(data, "")
    for name in SIGNALS:
        values[name] = signals.get(name)
    return values
