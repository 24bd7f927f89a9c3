"""The alerts file (METRICS_ALERTS_FILE, TOML) as a whole: rules, the webhooks they are delivered
to and maintenance silences, read once and checked against each other, so that a mistake stops the
sidecar at startup with the table and field named.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.alerts.rules import DEFAULT_RULES, Rule, parse_rules
from server.alerts.silences import Silence, parse_silences
from server.alerts.webhooks import Webhook, parse_webhooks
from server.errors import ConfigurationError


@dataclass(frozen=True)
class AlertsFile:
    rules: tuple[Rule, ...] = DEFAULT_RULES
    webhooks: tuple[Webhook, ...] = ()
    silences: tuple[Silence, ...] = ()


def load_alerts(path: str | Path, environ: Mapping[str, str]) -> AlertsFile:
    """Read and check the file; `environ` holds the variables its `*_env` fields name."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"METRICS_ALERTS_FILE {str(path)!r} cannot be read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"METRICS_ALERTS_FILE {str(path)!r} is not valid TOML: {exc}") from exc
    return parse_alerts(document, environ, source=str(path))


def parse_alerts(
    document: Mapping[str, Any], environ: Mapping[str, str], source: str = "the alerts file"
) -> AlertsFile:
    rules = parse_rules(document, source)
    webhooks = parse_webhooks(document.get("webhooks", []), environ, source)
    silences = parse_silences(document.get("silences", []), [rule.name for rule in rules], source)
    check_alerts(rules, webhooks, silences, source)
    return AlertsFile(rules, webhooks, silences)


def check_alerts(
    rules: Sequence[Rule], webhooks: Sequence[Webhook], silences: Sequence[Silence], source: str = "alert settings"
) -> None:
    """Every webhook a rule names exists, and every silence names a rule."""
    known = {webhook.name for webhook in webhooks}
    for rule in rules:
        unknown = [name for name in rule.notify or () if name not in known]
        if unknown:
            listed = ", ".join(sorted(known)) or "none"
            raise ConfigurationError(
                f"{source}: rule {rule.name!r} notifies unknown webhook(s) {unknown}; the webhooks are: {listed}"
            )
    rule_names = {rule.name for rule in rules}
    for silence in silences:
        if silence.rule not in rule_names:
            raise ConfigurationError(f"{source}: a silence names {silence.rule!r}, which is not a rule")
