"""Maintenance windows: `[[silences]]` in the rules file keep a rule's transitions from webhooks.

[[silences]]
rule = "failed-transactions"          # a rule of the file
from = 2026-12-05T01:00:00+01:00      # a TOML date-time with its UTC offset (or the same as a string)
to = 2026-12-05T03:00:00+01:00        # after `from`; the window is [from, to)
reason = "database upgrade"           # optional, for the people reading the file

A silenced rule is still evaluated, kept and shown everywhere (marked `silenced`); only webhook
delivery is held back. What decides is the moment the alert fired: a firing inside a window is
not delivered, and neither is its resolution (the receiver never heard it fire); a firing outside
every window is delivered, and so is its resolution, even one that falls inside a window.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.errors import ConfigurationError

_KEYS = {"rule", "from", "to", "reason"}


@dataclass(frozen=True)
class Silence:
    rule: str
    start: datetime  # timezone-aware
    end: datetime  # timezone-aware, after `start`; the window excludes it
    reason: str = ""

    def covers(self, rule: str, moment: datetime) -> bool:
        return rule == self.rule and self.start <= moment < self.end


def is_silenced(silences: Sequence[Silence], rule: str, moment: datetime) -> bool:
    """Whether `rule` is silenced at `moment` by any window."""
    return any(silence.covers(rule, moment) for silence in silences)


def parse_silences(entries: Any, rule_names: Collection[str], source: str) -> tuple[Silence, ...]:
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source}: 'silences' must be an array of tables ([[silences]])")
    silences: list[Silence] = []
    for index, entry in enumerate(entries):
        where = f"{source}: silence #{index + 1}"
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{where} must be a table")
        silences.append(_parse_silence(entry, rule_names, where))
    return tuple(silences)


def _parse_silence(entry: Mapping[str, Any], rule_names: Collection[str], where: str) -> Silence:
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {sorted(unknown)}")
    rule = entry.get("rule")
    if not isinstance(rule, str) or rule not in rule_names:
        known = ", ".join(rule_names)
        raise ConfigurationError(f"{where}: 'rule' must name a rule of the file ({known}); got {rule!r}")
    start = _moment(entry.get("from"), f"{where} ({rule}): 'from'")
    end = _moment(entry.get("to"), f"{where} ({rule}): 'to'")
    if not end > start:
        raise ConfigurationError(f"{where} ({rule}): 'to' must be after 'from'")
    reason = entry.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 300:
        raise ConfigurationError(f"{where} ({rule}): 'reason' must be text of at most 300 characters")
    return Silence(rule, start, end, reason)


def _moment(raw: Any, what: str) -> datetime:
    """A TOML offset date-time, or an ISO 8601 string with an offset; never a local time, which
    would mean a different moment on each server."""
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{what} must be an ISO 8601 date-time, got {raw!r}") from exc
    if not isinstance(raw, datetime):
        raise ConfigurationError(f"{what} must be a date-time with its UTC offset, like 2026-12-05T01:00:00+01:00")
    if raw.tzinfo is None or raw.utcoffset() is None:
        raise ConfigurationError(f"{what} must carry its UTC offset (like +01:00 or Z): {raw.isoformat()} has none")
    return raw
