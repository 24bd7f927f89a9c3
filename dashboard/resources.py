"""Resources shared by every browser session of one Streamlit process."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from dashboard.subscription import LiveSubscription
from server.settings import Settings

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
def settings() -> Settings:
    return Settings.from_env()


@st.cache_resource
def live_subscription() -> LiveSubscription:
    """The one WebSocket subscription of this process, shared by all sessions."""
    return LiveSubscription(settings().ws_url, token=settings().dashboard_token)
