"""Alerts as Streamlit notices: the realtime page's banner and the Alerts page's list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

_ICONS = {"critical": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}


def show_firing(firing: Sequence[dict[str, Any]]) -> None:
    """One notice per firing alert, coloured by severity (critical red, warning amber, info blue)."""
    for alert in firing:
        text = f"**{alert['rule']}** · {alert['message']} · since {when(alert['firedAt'])}"
        if alert.get("silenced"):  # a maintenance window of its rule: shown, but nobody was paged
            text += " · silenced (not sent to webhooks)"
        icon = _ICONS.get(alert["severity"], _ICONS["warning"])
        if alert["severity"] == "critical":
            st.error(text, icon=icon)
        elif alert["severity"] == "info":
            st.info(text, icon=icon)
        else:
            st.warning(text, icon=icon)


def banner(firing: Sequence[dict[str, Any]]) -> None:
    """The realtime page's notice: how many alerts fire, each named, and a link to the Alerts page."""
    if not firing:
        return
    show_firing(firing)
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
