"""What a link to a page may say: choices named by the page's labels or by the API's ids."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st


def accept_ids(param: str, labels: Mapping[str, str], key: str | None = None) -> None:
    """Let a link name a choice by its API id (`?metric=active_users`) as well as by the label the
    page writes (`?metric=Active+users`): an id is rewritten to its label before the widget reads
    the URL, and the widget (`key`, default `param`) starts on it. A value that is neither is
    dropped with a notice, not silently ignored."""
    value = st.query_params.get(param)
    if value is None or value in labels.values():
        return
    if value in labels:
        st.query_params[param] = labels[value]
        st.session_state.setdefault(key or param, value)
        return
    del st.query_params[param]
    st.warning(f"The link's {param}={value!r} is not one of {', '.join(labels)}: showing the default.")
