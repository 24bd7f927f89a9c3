"""Alert rule files: what they may say, and the error a mistake gets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from server.alerts.config import load_alerts
from server.alerts.rules import DEFAULT_RULES, Rule, parse_rules
from server.errors import ConfigurationError
from server.settings import Settings

RULES = """
[[rules]]
name = "failed-transactions"
metric = "failedShareLastHour"
above = 5
clear = 4
for = 2
severity = "critical"
message = "Failed: {value}% (over {threshold}%)"

[[rules]]
name = "busy"
metric = "activeUsers.current"
above = 500
"""


def test_a_rules_file_is_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(RULES)
    failed, busy = load_alerts(path, {}).rules
    assert failed == Rule(
        name="failed-transactions",
        metric="failedShareLastHour",
        direction="above",
        threshold=Decimal(5),
        clear=Decimal(4),
        for_snapshots=2,
        severity="critical",
        message="Failed: {value}% (over {threshold}%)",
    )
    assert failed.describe(Decimal("6.50")) == "Failed: 6.5% (over 5%)"
    # Defaults: clear at the threshold, one snapshot, warning.
    assert (busy.direction, busy.clear, busy.for_snapshots, busy.severity) == ("above", Decimal(500), 1, "warning")
    assert busy.describe(Decimal(501)) == "activeUsers.current is 501, above 500"


def test_settings_read_the_file_named_by_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(RULES)
    settings = Settings.from_env({"METRICS_ALERTS_FILE": str(path)}, env_file=None)
    assert [rule.name for rule in settings.alert_rules] == ["failed-transactions", "busy"]
    assert Settings.from_env({}, env_file=None).alert_rules == DEFAULT_RULES


def test_the_default_rules_are_the_specs_monitoring_list() -> None:
    assert [(r.metric, r.direction, r.threshold) for r in DEFAULT_RULES] == [
        ("failedShareLast15Minutes", "above", Decimal(5)),
        ("revenueTodayVsLastWeek", "below", Decimal(-30)),
        ("computeSeconds", "above", Decimal(1)),
    ]


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ({"metric": "activeUsers.current", "above": 1}, "'name' must be"),
        ({"name": "x y", "metric": "activeUsers.current", "above": 1}, "'name' must be"),
        ({"name": "a", "metric": "revenue.yesterday", "above": 1}, "'metric' must be one of"),
        ({"name": "a", "metric": "activeUsers.current"}, "exactly one of 'above' or 'below'"),
        ({"name": "a", "metric": "activeUsers.current", "above": 1, "below": 0}, "exactly one of"),
        ({"name": "a", "metric": "activeUsers.current", "above": "lots"}, "'above' must be a number"),
        ({"name": "a", "metric": "activeUsers.current", "above": 5, "clear": 6}, "'clear' must be at or below"),
        ({"name": "a", "metric": "revenue.today", "below": 5, "clear": 4}, "'clear' must be at or above"),
        ({"name": "a", "metric": "activeUsers.current", "above": 5, "for": 0}, "'for' must be"),
        ({"name": "a", "metric": "activeUsers.current", "above": 5, "severity": "page"}, "'severity' must be"),
        ({"name": "a", "metric": "activeUsers.current", "above": 5, "message": "{who}"}, "{value} and {threshold}"),
        ({"name": "a", "metric": "activeUsers.current", "above": 5, "window": 3}, "unknown field(s) ['window']"),
    ],
)
def test_a_mistaken_rule_is_refused_naming_the_rule_and_field(rule: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match="rule #1") as raised:
        parse_rules({"rules": [rule]})
    assert complaint in str(raised.value)


def test_rule_names_are_unique() -> None:
    rule = {"name": "a", "metric": "activeUsers.current", "above": 5}
    with pytest.raises(ConfigurationError, match=r"unique, repeated: \['a'\]"):
        parse_rules({"rules": [rule, rule]})


def test_a_file_that_is_not_toml_or_missing_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rules]\nname=")
    with pytest.raises(ConfigurationError, match="is not valid TOML"):
        load_alerts(broken, {})
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_alerts(tmp_path / "missing.toml", {})
    with pytest.raises(ConfigurationError, match="unknown top-level key"):
        parse_rules({"rule": []})


def test_the_example_file_in_the_repository_is_valid() -> None:
    environ = {"ALERT_WEBHOOK_SECRET": "x" * 32, "ALERT_SLACK_URL": "https://hooks.slack.com/services/T0/B0/x"}
    alerts = load_alerts(Path(__file__).parents[2] / "alerts.example.toml", environ)
    assert alerts.rules[:3] == DEFAULT_RULES
    assert (alerts.rules[3].name, alerts.rules[3].notify) == ("busy", ("team-chat",))
    assert [(webhook.name, webhook.kind) for webhook in alerts.webhooks] == [("ops", "json"), ("team-chat", "slack")]
    assert [silence.rule for silence in alerts.silences] == ["failed-transactions"]
