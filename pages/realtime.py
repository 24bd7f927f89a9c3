"""The realtime page. Until the live dashboard lands, it shows the sidecar's current snapshot."""

from __future__ import annotations

import streamlit as st

from dashboard.client import SidecarClient, SidecarUnavailable

st.title("Realtime metrics")
client = SidecarClient.from_env()
try:
    snapshot = client.realtime_metrics()
except SidecarUnavailable as exc:
    st.error(f"The sidecar at {client.api_url} cannot be reached: {exc}")
else:
    st.caption(f"Snapshot {snapshot['snapshotId']} at {snapshot['timestamp']}")
    st.json(snapshot)
