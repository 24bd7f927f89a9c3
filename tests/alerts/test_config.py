"""The alerts file as a whole: webhooks and silences as read, and the clear error each mistake
gets at load (never with a URL or a secret in it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from server.alerts.config import load_alerts, parse_alerts
from server.alerts.rules import DEFAULT_RULES
from server.alerts.silences import Silence
from server.alerts.webhooks import Webhook
from server.errors import ConfigurationError
from server.settings import Settings

_T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
SECRET = "s" * 32
SLACK_URL = "https://hooks.slack.com/services/T000/B000/topsecretpath"
ENVIRON = {"ALERT_WEBHOOK_SECRET": SECRET, "ALERT_SLACK_URL": SLACK_URL}

FILE = """
[[rules]]
name = "busy"
metric = "activeUsers.current"
above = 500
notify = ["chat"]

[[rules]]
name = "failed-transactions"
metric = "failedShareLastHour"
above = 5

[[webhooks]]
name = "ops"
url = "https://alerts.example.com/hooks/metrics?team=ops"
secret_env = "ALERT_WEBHOOK_SECRET"

[[webhooks]]
name = "chat"
kind = "slack"
url_env = "ALERT_SLACK_URL"

[[silences]]
rule = "failed-transactions"
from = 2026-12-05T01:00:00+01:00
to = "2026-12-05T03:00:00Z"
reason = "database upgrade"
"""


def test_webhooks_and_silences_are_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(FILE)
    alerts = load_alerts(path, ENVIRON)
    assert [(rule.name, rule.notify) for rule in alerts.rules] == [("busy", ("chat",)), ("failed-transactions", None)]
    assert alerts.webhooks == (
        Webhook("ops", "json", "https://alerts.example.com/hooks/metrics?team=ops", SECRET),
        Webhook("chat", "slack", SLACK_URL, None),
    )
    assert alerts.silences == (
        Silence(
            "failed-transactions",
            datetime(2026, 12, 5, 1, 0, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 12, 5, 3, 0, tzinfo=UTC),
            "database upgrade",
        ),
    )
    # Neither the URL nor the secret shows in a webhook's repr (a log line or a traceback).
    assert "secret" not in repr(alerts.webhooks) and "hooks" not in repr(alerts.webhooks)


def test_settings_read_webhook_secrets_from_the_environment_the_file_names(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(FILE)
    settings = Settings.from_env({"METRICS_ALERTS_FILE": str(path), **ENVIRON}, env_file=None)
    assert [webhook.secret for webhook in settings.alert_webhooks] == [SECRET, None]
    assert [silence.rule for silence in settings.alert_silences] == ["failed-transactions"]
    with pytest.raises(ConfigurationError, match="ALERT_WEBHOOK_SECRET is not set"):
        Settings.from_env({"METRICS_ALERTS_FILE": str(path), "ALERT_SLACK_URL": SLACK_URL}, env_file=None)


def test_settings_built_directly_are_checked_too() -> None:
    with pytest.raises(ConfigurationError, match=r"rule 'failed-transactions' notifies unknown webhook\(s\) \['ops'\]"):
        Settings(alert_rules=(replace(DEFAULT_RULES[0], notify=("ops",)),))


def _document(**changes: Any) -> dict[str, Any]:
    webhook = {"name": "ops", "url": "https://alerts.example.com/hook", "secret_env": "ALERT_WEBHOOK_SECRET"}
    document: dict[str, Any] = {
        "rules": [{"name": "busy", "metric": "activeUsers.current", "above": 5}],
        "webhooks": [webhook],
    }
    for key, value in changes.items():
        if key == "webhook":
            document["webhooks"] = [{**webhook, **value}]
        elif key == "rule":
            document["rules"] = [{**document["rules"][0], **value}]
        else:
            document[key] = value
    return document


def _silence(**fields: Any) -> list[dict[str, Any]]:
    return [{"rule": "busy", "from": "2026-12-05T01:00:00+01:00", "to": "2026-12-05T03:00:00+01:00", **fields}]


@pytest.mark.parametrize(
    ("document", "environ", "complaint"),
    [
        (_document(rule={"notify": ["pager"]}), ENVIRON, "rule 'busy' notifies unknown webhook(s) ['pager']"),
        (_document(rule={"notify": "ops"}), ENVIRON, "'notify' must be a list of webhook names"),
        (_document(webhook={"url": "ftp://alerts.example.com/x"}), ENVIRON, "webhook #1 (ops): 'url' must be an http"),
        (_document(webhook={"url": "alerts.example.com/hook"}), ENVIRON, "'url' must be an http:// or https://"),
        (_document(webhook={"url": "https://u:p@alerts.example.com/"}), ENVIRON, "must not carry a user"),
        (_document(webhook={"url": "https://alerts.example.com:99999/"}), ENVIRON, "'url' must be an http"),
        (_document(webhook={"url_env": "ALERT_SLACK_URL"}), ENVIRON, "exactly one of 'url' or 'url_env'"),
        (_document(), {}, "webhook #1 (ops): 'secret_env': the environment variable ALERT_WEBHOOK_SECRET is not set"),
        (_document(), {"ALERT_WEBHOOK_SECRET": "short"}, "ALERT_WEBHOOK_SECRET must be at least 16 characters"),
        (_document(webhook={"secret_env": "not a name"}), ENVIRON, "'secret_env' must name an environment variable"),
        (_document(webhook={"secret_env": None}), ENVIRON, "'secret_env' must name an environment variable"),
        (_document(webhooks=[{"name": "ops", "url": "https://a.example.com/"}]), ENVIRON, "needs 'secret_env'"),
        (_document(webhook={"kind": "teams"}), ENVIRON, "'kind' must be one of json, slack"),
        (_document(webhook={"timeout": 5}), ENVIRON, "unknown field(s) ['timeout']"),
        (_document(webhook={"name": "o p"}), ENVIRON, "webhook #1: 'name' must be"),
        (_document(webhooks={"name": "ops"}), ENVIRON, "'webhooks' must be an array of tables"),
        (_document(silences=_silence(rule="slow")), ENVIRON, "silence #1: 'rule' must name a rule of the file"),
        (_document(silences=_silence(to="2026-12-05T03:00:00")), ENVIRON, "'to' must carry its UTC offset"),
        (_document(silences=_silence(**{"from": datetime(2026, 12, 5)})), ENVIRON, "'from' must carry its UTC"),
        (_document(silences=_silence(to="tomorrow")), ENVIRON, "'to' must be an ISO 8601 date-time"),
        (_document(silences=_silence(to=3)), ENVIRON, "'to' must be a date-time with its UTC offset"),
        (_document(silences=_silence(to="2026-12-05T01:00:00+01:00")), ENVIRON, "'to' must be after 'from'"),
        (_document(silences=_silence(until="x")), ENVIRON, "unknown field(s) ['until']"),
        (_document(alerts=[]), ENVIRON, "unknown top-level key(s) ['alerts']"),
    ],
)
def test_a_mistake_is_refused_at_load_naming_the_table_and_field(
    document: dict[str, Any], environ: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_alerts(document, environ, source="alerts.toml")
    assert complaint in str(raised.value)
    assert str(raised.value).startswith("alerts.toml: ")


def test_a_url_from_the_environment_is_checked_without_being_shown() -> None:
    document = _document(webhook={"url": None})
    del document["webhooks"][0]["url"]
    document["webhooks"][0]["url_env"] = "ALERT_SLACK_URL"
    with pytest.raises(ConfigurationError) as raised:
        parse_alerts(document, {**ENVIRON, "ALERT_SLACK_URL": "hooks.slack.com/services/T0/B0/topsecretpath"})
    assert "the URL in ALERT_SLACK_URL must be an http:// or https:// URL" in str(raised.value)
    assert "topsecretpath" not in str(raised.value)


def test_webhook_names_are_unique() -> None:
    hook = {"name": "ops", "url": "https://a.example.com/", "secret_env": "ALERT_WEBHOOK_SECRET"}
    with pytest.raises(ConfigurationError, match=r"webhook names must be unique, repeated: \['ops'\]"):
        parse_alerts(_document(webhooks=[hook, hook]), ENVIRON)


def test_a_silence_starts_at_its_from_and_ends_before_its_to() -> None:
    start, end = _T0 + timedelta(hours=1), _T0 + timedelta(hours=2)
    silence = Silence("busy", start, end)
    assert silence.covers("busy", start) and not silence.covers("busy", end)
    assert not silence.covers("busy", start - timedelta(microseconds=1))
    assert silence.covers("busy", end - timedelta(microseconds=1)) and not silence.covers("other", start)
