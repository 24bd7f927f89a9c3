"""Alerts as Streamlit notices: the realtime page's banner and the Alerts page's list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import streamlit as st

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


def notice_text(
    alert: Mapping[str, Any], snapshot: Mapping[str, Any] | None = None, values_now: Mapping[str, Any] | None = None
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
    return (
        f"**{alert['rule']}** · {alert['metric']} now {_number(now)} "
        f"(fired at {_number(alert['value'])}, threshold {_number(alert['threshold'])}) · {since}"
    )


def _number(value: Any) -> str:
    if isinstance(value, (int, float, Decimal, str)) and not isinstance(value, bool):
        try:
            return format(Decimal(str(value)).normalize(), ",f")
        except ArithmeticError:
            return str(value)
    return str(value)


def needs_values_now(firing: Sequence[Mapping[str, Any]], snapshot: Mapping[str, Any] | None) -> bool:
    """Whether some firing alert's value now is not in the snapshot (a signal): ask the listing."""
    return any(current_value(str(alert.get("metric", "")), snapshot) is None for alert in firing)


def show_firing(
    firing: Sequence[dict[str, Any]],
    snapshot: Mapping[str, Any] | None = None,
    values_now: Mapping[str, Any] | None = None,
) -> None:
    """One notice per firing alert, coloured by severity (critical red, warning amber, info blue)."""
    for alert in firing:
        text = notice_text(alert, snapshot, values_now)
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
) -> None:
    """The realtime page's notice: how many alerts fire, each named with its value now, and a
    link to the Alerts page."""
    if not firing:
        return
    show_firing(firing, snapshot, values_now)
    # A relative link: it stays right under a base URL path, and needs no st.navigation to resolve.
    st.markdown(":material/notifications: [Open the alerts page](alerts)")


def when(timestamp: str | None) -> str:
    """`2026-11-27T10:00:00.000Z` as `2026-11-27 10:00:00 UTC`."""
    if not timestamp:
        return "—"
    return timestamp.replace("T", " ").split(".")[0] + " UTC"


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
