"""The dashboard's entry point: it only routes (`streamlit run app.py`)."""

from __future__ import annotations

import streamlit as st

from dashboard.login import require_login

st.set_page_config(page_title="Realtime metrics", page_icon=":bar_chart:", layout="wide")
pages = [
    st.Page("pages/realtime.py", title="Realtime", icon=":material/monitoring:", default=True),
    st.Page("pages/history.py", title="History", icon=":material/history:"),
    st.Page("pages/behaviour.py", title="Behaviour", icon=":material/group:"),
    st.Page("pages/alerts.py", title="Alerts", icon=":material/notifications:"),
]
require_login(pages)  # until this session may see them: the login page, and the run ends here
# The TV view (`?embed=true`) shows the page alone: every page's controls are on the page itself.
st.navigation(pages, position="hidden" if st.context.is_embedded else "sidebar").run()
