"""The dashboard soak's baseline: the least a live Streamlit chart costs.

A 5 s fragment draws one Plotly line of 20 constant points, built afresh on every run as a
minimal app would write it. `bench.dashboard_soak` opens the same number of browser sessions on
it as on the product, in the same run (`streamlit run bench/soak_baseline_app.py`).
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

INTERVAL = 5
POINTS = list(range(20))
VALUES = [1000 + 37 * i for i in POINTS]

st.set_page_config(page_title="Soak baseline", layout="wide")
st.title("Baseline")


@st.fragment(run_every=INTERVAL)
def chart() -> None:
    st.plotly_chart(go.Figure(go.Scatter(x=POINTS, y=VALUES, mode="lines+markers")), key="baseline-chart")


chart()
