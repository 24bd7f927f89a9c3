"""Alert rules: what a TOML rules file (METRICS_ALERTS_FILE) may say, checked when it is read.

[[rules]]
name = "failed-transactions"        # unique; letters, digits, '-' and '_'
metric = "failedShareLastHour"      # a signal (SIGNALS) or a snapshot path like "activeUsers.current"
above = 5                           # or `below = ...`: the threshold the value must cross to fire
clear = 4                           # optional: the value must come back past this to resolve
for = 2                             # optional: consecutive snapshots beyond the threshold to fire
severity = "critical"               # optional: info, warning (default) or critical
message = "..."                     # optional; {value} and {threshold} are filled in
notify = ["ops"]                    # optional: the webhooks it goes to; without it, all of them

The file may also hold `[[webhooks]]` (server.alerts.webhooks) and `[[silences]]`
(server.alerts.silences); `server.alerts.config` reads the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from server.errors import ConfigurationError

Direction = Literal["above", "below"]
SEVERITIES = ("info", "warning", "critical")

# Signals beyond the snapshot's own fields (the spec's monitoring list).
SIGNALS = {
    "failedShareLastHour": "percent of the transactions created in the last hour that failed",
    "failedShareLast15Minutes": "percent of the transactions created in the last 15 minutes that failed",
    "revenueTodayVsLastWeek": "percent change of today's revenue against the same day last week, to the same time",
    "computeSeconds": "seconds the snapshot took to compute",
}
SNAPSHOT_PATHS = (
    "revenue.total",
    "revenue.today",
    "revenue.thisWeek",
    "revenue.thisMonth",
    "activeUsers.current",
    "activeUsers.today",
    "activeUsers.peak24h",
    "transactions.total",
    "transactions.pending",
    "transactions.completed",
    "transactions.failed",
    "content.totalViews",
    "content.totalPurchases",
    "content.conversionRate",
    # Ours: the same figures yesterday and last week at this local time (the snapshot's `pace`).
    "pace.revenue.yesterday",
    "pace.revenue.lastWeek",
    "pace.activeUsers.yesterday",
    "pace.activeUsers.lastWeek",
)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEYS = {"name", "metric", "above", "below", "clear", "for", "severity", "message", "notify"}
TOP_LEVEL_KEYS = ("rules", "webhooks", "silences")


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    direction: Direction
    threshold: Decimal
    clear: Decimal  # resolves once the value is back at or past this (hysteresis)
    for_snapshots: int = 1
    severity: str = "warning"
    message: str = ""
    notify: tuple[str, ...] | None = None  # webhook names; None: every webhook of the file

    def breached(self, value: Decimal) -> bool:
        return value > self.threshold if self.direction == "above" else value < self.threshold

    def cleared(self, value: Decimal) -> bool:
        return value <= self.clear if self.direction == "above" else value >= self.clear

    def describe(self, value: Decimal) -> str:
        template = self.message or f"{self.metric} is {{value}}, {self.direction} {{threshold}}"
        return template.format(value=_plain(value), threshold=_plain(self.threshold))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metric": self.metric,
            self.direction: float(self.threshold),
            "clear": float(self.clear),
            "for": self.for_snapshots,
            "severity": self.severity,
        }


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        name="failed-transactions",
        # 15 minutes, not an hour: an incident's alert resolves soon after it ends, instead of
        # staying on for the hour its failures take to leave the window.
        metric="failedShareLast15Minutes",
        direction="above",
        threshold=Decimal(5),
        clear=Decimal(4),
        severity="critical",
        message="Failed transactions are {value}% of those created in the last 15 minutes (alert above {threshold}%)",
    ),
    Rule(
        name="revenue-drop",
        metric="revenueTodayVsLastWeek",
        direction="below",
        threshold=Decimal(-30),
        clear=Decimal(-25),
        for_snapshots=3,
        message="Revenue today is {value}% against the same time last week (alert below {threshold}%)",
    ),
    Rule(
        name="slow-snapshot",
        metric="computeSeconds",
        direction="above",
        threshold=Decimal(1),
        clear=Decimal("0.5"),
        message="A snapshot took {value} s to compute (alert above {threshold} s)",
    ),
)


def parse_rules(document: Mapping[str, Any], source: str = "the alert rules") -> tuple[Rule, ...]:
    unknown = set(document) - set(TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{source}: unknown top-level key(s) {sorted(unknown)}; the file holds [[rules]], [[webhooks]] "
            "and [[silences]] tables"
        )
    entries = document.get("rules", [])
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source}: 'rules' must be an array of tables ([[rules]])")
    rules: list[Rule] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{source}: rule #{index + 1} must be a table")
        rules.append(_parse_rule(entry, f"{source}: rule #{index + 1}"))
    names = [rule.name for rule in rules]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ConfigurationError(f"{source}: rule names must be unique, repeated: {duplicated}")
    return tuple(rules)


def _parse_rule(entry: Mapping[str, Any], where: str) -> Rule:
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"{where}: 'name' must be 1-64 letters, digits, '-' or '_'")
    where = f"{where} ({name})"
    metric = entry.get("metric")
    if metric not in SIGNALS and metric not in SNAPSHOT_PATHS:
        known = ", ".join([*SIGNALS, *SNAPSHOT_PATHS])
        raise ConfigurationError(f"{where}: 'metric' must be one of {known}; got {metric!r}")
    if ("above" in entry) == ("below" in entry):
        raise ConfigurationError(f"{where}: give exactly one of 'above' or 'below'")
    direction: Direction = "above" if "above" in entry else "below"
    threshold = _decimal(entry[direction], f"{where}: '{direction}'")
    clear = _decimal(entry["clear"], f"{where}: 'clear'") if "clear" in entry else threshold
    if (direction == "above" and clear > threshold) or (direction == "below" and clear < threshold):
        side = "at or below" if direction == "above" else "at or above"
        raise ConfigurationError(f"{where}: 'clear' must be {side} the threshold {_plain(threshold)}")
    for_snapshots = entry.get("for", 1)
    if not isinstance(for_snapshots, int) or isinstance(for_snapshots, bool) or not 1 <= for_snapshots <= 1000:
        raise ConfigurationError(f"{where}: 'for' must be a whole number of snapshots from 1 to 1000")
    severity = entry.get("severity", "warning")
    if severity not in SEVERITIES:
        raise ConfigurationError(f"{where}: 'severity' must be one of {', '.join(SEVERITIES)}")
    message = entry.get("message", "")
    if not isinstance(message, str) or len(message) > 300:
        raise ConfigurationError(f"{where}: 'message' must be text of at most 300 characters")
    try:
        message.format(value="1", threshold="1")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigurationError(f"{where}: 'message' may only use {{value}} and {{threshold}}") from exc
    notify = entry.get("notify")
    if notify is not None:
        if not isinstance(notify, list) or not all(isinstance(n, str) and _NAME.match(n) for n in notify):
            raise ConfigurationError(f"{where}: 'notify' must be a list of webhook names, like [\"ops\"]")
        if len(set(notify)) != len(notify):
            raise ConfigurationError(f"{where}: 'notify' names a webhook more than once")
        notify = tuple(notify)
    return Rule(name, metric, direction, threshold, clear, for_snapshots, severity, message, notify)


def _decimal(raw: Any, what: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ConfigurationError(f"{what} must be a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise ConfigurationError(f"{what} must be a number, got {raw!r}") from exc
    if not value.is_finite():
        raise ConfigurationError(f"{what} must be a finite number")
    return value


def _plain(value: Decimal) -> str:
    """A number as people write it: no exponent, no trailing zeros after the point."""
    return format(value.normalize(), "f")
