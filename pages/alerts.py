"""The alerts page: what fires now (live, from the socket) and the latest firings and rules."""

from __future__ import annotations

import streamlit as st

from dashboard import alert_notices, api, tables
from dashboard.login import ensure_logged_in
from dashboard.resources import live_subscription, settings

ensure_logged_in()  # the login of app.py, also for a run that did not pass through it

config = settings()
subscription = live_subscription()
client = api.analytics()

st.title("Alerts")


@st.fragment(run_every=config.interval)
def firing_now() -> None:
    view = subscription.view()
    if view.state.status != "live":
        st.warning("Not connected to the sidecar: what fires may have changed since.")
    st.subheader("Firing now")
    if view.firing:
        values_now = alert_notices.values_now(view.firing, view.latest, client)
        alert_notices.show_firing(view.firing, view.latest, values_now, config.currency)
    else:
        st.success("No alert is firing.", icon=":material/check_circle:")
    if view.alert_log:
        st.subheader("Since this dashboard started")
        log = alert_notices.rows(alert_notices.latest_per_alert(view.alert_log))
        st.dataframe(log, hide_index=True, width="stretch")


firing_now()

st.subheader("Latest firings")
st.caption(f"From the sidecar's record, refreshed every {api.CACHE_TTL:g} s.")
try:
    listing = client.alerts(50)
except api.AnalyticsError as exc:
    st.error(str(exc))
else:
    if listing["recent"]:
        recent = alert_notices.rows(listing["recent"])
        st.dataframe(recent, hide_index=True, width="stretch")
        tables.download(
            "Latest firings (CSV)", tables.csv_bytes(recent, list(recent[0])), "alerts.csv", key="csv-alerts"
        )
    else:
        st.info("No alert has fired yet.")
    with st.expander("Rules"):
        st.dataframe(alert_notices.rule_rows(listing["rules"], config.currency), hide_index=True, width="stretch")
        if listing["rules"]:
            columns = list(dict.fromkeys(key for rule in listing["rules"] for key in rule))
            tables.download(
                "Rules (CSV)", tables.csv_bytes(listing["rules"], columns), "alert-rules.csv", key="csv-rules"
            )
