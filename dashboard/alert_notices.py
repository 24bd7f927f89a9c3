"""Alerts as Streamlit notices: the realtime page's banner and the Alerts page's list."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import streamlit as st

from dashboard import format as formats
from dashboard.api import AnalyticsClient
from metrics_client.rest import ApiError as AnalyticsError

_ICONS = {"critical": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}


def current_value(metric: str, snapshot: Mapping[str, Any] | None) -> Any | None:
    """The metric's value in the latest snapshot, for a snapshot path (`transactions.pending`,
    `pace.revenue.yesterday`); None for a signal the snapshot does not carry
    (`failedShareLast15Minutes`), or without a snapshot or while it is stale."""
    if snapshot is not None and snapshot.get("stale"):
        return None
    if snapshot is None or "." not in metric:
        return None
    value: Any = snapshot
    for name in metric.split("."):
        value = value.get(name) if isinstance(value, Mapping) else None
    return None if isinstance(value, (bool, Mapping)) else value


# The rules' signals as a reader names them, and their units (server.alerts.rules.SIGNALS).
_SIGNALS = {
    "failedShareLastHour": ("Failed share of the last hour's transactions", "%"),
    "failedShareLast15Minutes": ("Failed share of the last 15 minutes' transactions", "%"),
    "revenueTodayVsLastWeek": ("Revenue today against last week at this time", "%"),
    "computeSeconds": ("Snapshot computation", " s"),
}


def metric_label(metric: str) -> str:
    """`Failed share of the last hour's transactions`; a snapshot path in words (`Transactions · pending`)."""
    if metric in _SIGNALS:
        return _SIGNALS[metric][0]
    words = " · ".join(re.sub(r"([A-Z])", r" \1", part).lower() for part in metric.split("."))
    return words[:1].upper() + words[1:]


def metric_value(metric: str, value: Any, currency: str) -> str:
    """A rule's number with its unit: `25%`, `0.8 s`, `$1,250.00`, `1,204`."""
    if metric in _SIGNALS:
        return _number(value) + _SIGNALS[metric][1]
    if metric.startswith(("revenue.", "pace.revenue.")):
        return formats.money(value, currency)
    if metric == "content.conversionRate":
        return _number(value) + "%"
    return _number(value)


def notice_text(
    alert: Mapping[str, Any],
    snapshot: Mapping[str, Any] | None = None,
    values_now: Mapping[str, Any] | None = None,
    currency: str = "USD",
) -> str:
    """The alert's line: its value now where the latest snapshot has it, else where the sidecar's
    listing says it (`values_now`, by rule: the signals the snapshot does not carry), else its
    message, whose value is the one it fired at (the record keeps only that)."""
    since = f"since {when(alert['firedAt'])}"
    now = current_value(str(alert.get("metric", "")), snapshot)
    if now is None and values_now is not None:
        now = values_now.get(str(alert["rule"]))
    if now is None:
        return f"**{alert['rule']}** · {alert['message']} · {since}"
    metric = str(alert["metric"])
    figure = functools.partial(metric_value, metric, currency=currency)
    return (
        f"**{alert['rule']}** · {metric_label(metric)}: now {figure(now)} "
        f"(fired at {figure(alert['value'])}, threshold {figure(alert['threshold'])}) · {since}"
    )


def _number(value: Any) -> str:
    if isinstance(value, (int, float, Decimal, str)) and not isinstance(value, bool):
        try:
            return format(Decimal(str(value)).normalize(), ",f")
        except ArithmeticError:
            return str(value)
    return str(value)


def values_now(
    firing: Sequence[Mapping[str, Any]], snapshot: Mapping[str, Any] | None, client: AnalyticsClient
) -> dict[str, Any] | None:
    """The firing alerts' values now from the sidecar's listing, asked only when the snapshot
    lacks one (a signal); None when not needed or when the listing cannot say (each notice then
    keeps its message, with the value it fired at)."""
    if all(current_value(str(alert.get("metric", "")), snapshot) is not None for alert in firing):
        return None
    try:
        return client.values_now()
    except AnalyticsError:
        return None


def show_firing(
    firing: Sequence[dict[str, Any]],
    snapshot: Mapping[str, Any] | None = None,
    values_now: Mapping[str, Any] | None = None,
    currency: str = "USD",
) -> None:
    """One notice per firing alert, coloured by severity (critical red, warning amber, info blue)."""
    for alert in firing:
        text = notice_text(alert, snapshot, values_now, currency)
        if alert.get("silenced"):  # a maintenance window of its rule: shown, but nobody was paged
            text += " · silenced (not sent to webhooks)"
        icon = _ICONS.get(alert["severity"], _ICONS["warning"])
        if alert["severity"] == "critical":
            st.error(text, icon=icon)
        elif alert["severity"] == "info":
            st.info(text, icon=icon)
        else:
            st.warning(text, icon=icon)


def banner(
    firing: Sequence[dict[str, Any]],
    snapshot: Mapping[str, Any] | None = None,
    values_now: Mapping[str, Any] | None = None,
    currency: str = "USD",
) -> None:
    """The realtime page's notice: how many alerts fire, each named with its value now, and a
    link to the Alerts page."""
    if not firing:
        return
    show_firing(firing, snapshot, values_now, currency)
    # A relative link: it stays right under a base URL path, and needs no st.navigation to resolve.
    st.markdown(":material/notifications: [Open the alerts page](alerts)")


def when(timestamp: str | None) -> str:
    """`2026-11-27T10:00:00.000Z` as `2026-11-27 10:00:00 UTC`."""
    if not timestamp:
        return "—"
    return timestamp.replace("T", " ").split(".")[0] + " UTC"


def latest_per_alert(transitions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per alert (its id), as its latest transition says, newest first: a firing that
    has resolved is one resolved row, not a firing row beside it."""
    latest: dict[Any, dict[str, Any]] = {}
    for alert in transitions:  # newest first: the first seen of an id is its latest
        latest.setdefault(alert["id"], alert)
    return list(latest.values())


def rule_rows(rules: Sequence[Mapping[str, Any]], currency: str) -> list[dict[str, Any]]:
    """The rules in force as a reader takes them: what is watched, when it fires and clears, with units."""
    out = []
    for rule in rules:
        metric = str(rule["metric"])
        direction = "above" if "above" in rule else "below"
        out.append(
            {
                "Rule": rule["name"],
                "Watches": metric_label(metric),
                "Fires when": f"{direction} {metric_value(metric, rule[direction], currency)}",
                "Resolves at": metric_value(metric, rule["clear"], currency),
                "For": f"{rule['for']} snapshot" + ("" if rule["for"] == 1 else "s"),
                "Severity": rule.get("severity", "warning"),
                "Metric": metric,
            }
        )
    return out


def rows(alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The listing as table rows, newest first as the sidecar sends them."""
    return [
        {
            "Rule": a["rule"],
            "Severity": a["severity"],
            "State": f"{a['state']} (silenced)" if a.get("silenced") else a["state"],
            "Message": a["message"],
            "Fired": when(a["firedAt"]),
            "Resolved": when(a["resolvedAt"]),
        }
        for a in alerts
    ]
