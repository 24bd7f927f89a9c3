"""Resources shared by every browser session of one Streamlit process."""

from __future__ import annotations

import gc

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from dashboard.charts import line_chart
from dashboard.format import money
from dashboard.settings import DashboardSettings
from dashboard.subscription import LiveSubscription

# app.py routes with st.navigation. Streamlit also knows an older scheme in which every file in
# pages/ is a page, and it uses that scheme until app.py has called st.navigation once; so the
# first visit after a restart that lands on /history would run pages/history.py under file-name
# navigation. Every page imports this module, which ends that scheme for good (st.navigation sets
# the same flag) and, if this very run was started under it, runs it again through app.py.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()
PagesManager.uses_pages_directory = False


@st.cache_resource
def settings() -> DashboardSettings:
    return DashboardSettings.from_env()


@st.cache_resource
def live_subscription() -> LiveSubscription:
    """The one WebSocket subscription of this process, shared by all sessions."""
    config = settings()
    return LiveSubscription(config.ws_url, token=config.token, backoff=config.backoff, retry_every=config.retry_every)


@st.cache_resource
def settled_heap() -> bool:
    """Once per process: move what it keeps for good out of the cyclic collector's way.

    Streamlit runs a full collection (`gc.collect(2)`, its `runner.postScriptGC`) after every run,
    a fragment's 5 s rerun included, so 20 sessions mean four a second. With Streamlit and Plotly
    loaded each one walked ~100,000 long-lived objects: tens of ms, most of a refresh's CPU
    (bench/dashboard_soak.py). A first chart and a first amount load what Plotly and Babel build
    lazily; `gc.freeze()` then moves everything alive to the permanent generation. Objects made
    afterwards (sessions, snapshots, figures) are still collected, after every run as before.
    """
    sample = {"timestamp": "2026-01-01T00:00:00.000Z", "value": 1}
    chart = line_chart(
        [sample, sample], lambda s: s["value"], title="", color="#000000", tz=settings().timezone, money_prefix="$"
    )
    chart.to_json()
    money(0, settings().currency)
    gc.collect()
    gc.freeze()
    return True
