"""Resources shared by every browser session of one Streamlit process."""

from __future__ import annotations

import streamlit as st

from dashboard.subscription import LiveSubscription
from server.settings import Settings


@st.cache_resource
def settings() -> Settings:
    return Settings.from_env()


@st.cache_resource
def live_subscription() -> LiveSubscription:
    """The one WebSocket subscription of this process, shared by all sessions."""
    return LiveSubscription(settings().ws_url)
