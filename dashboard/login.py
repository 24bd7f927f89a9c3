"""The login gate app.py passes before any page runs, and `python -m dashboard.login hash`.

What `.streamlit/secrets.toml` configures decides the gate:
- an `[auth]` section: Streamlit's own OpenID Connect login (`st.login`, `st.user`, `st.logout`);
- else `[dashboard] password_sha256`: a password form, checked against that SHA-256;
- else nothing: the dashboard is open, as it is on loopback.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit import config
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.navigation.page import StreamlitPage

MAX_FAILURES = 5  # wrong passwords in a row, per session, before a pause
PAUSE_SECONDS = 30.0

# Session state keys.
_PASSED = "login-passed"
_FAILURES = "login-failures"
_PAUSED_UNTIL = "login-paused-until"

# Monotonic seconds; tests replace it to step over the pause.
clock: Callable[[], float] = time.monotonic

_log = logging.getLogger(__name__)


def require_login(pages: Sequence[StreamlitPage]) -> None:
    """Return if this session may see `pages`; otherwise show the login page and stop the run."""
    secrets = _read_secrets()
    if secrets is None:
        _locked(_unreadable_secrets, pages)
    elif secrets.get("auth"):
        _oidc_gate(secrets["auth"], pages)
    elif "password_sha256" in secrets.get("dashboard", {}):
        _password_gate(str(secrets["dashboard"]["password_sha256"]).strip().lower(), pages)


def ensure_logged_in() -> None:
    """Each page's first call: stop unless this session has passed the gate of app.py.

    Until app.py has called st.navigation once after a restart, Streamlit serves the files in
    pages/ by their own paths without running app.py; this keeps such a run closed too.
    """
    secrets = _read_secrets()
    if secrets is None:
        allowed = False
    elif secrets.get("auth"):
        allowed = bool(st.user.is_logged_in)
    elif "password_sha256" in secrets.get("dashboard", {}):
        allowed = bool(st.session_state.get(_PASSED))
    else:
        allowed = True
    if not allowed:
        st.warning("This dashboard asks for a login.")
        st.markdown("[Log in](/)")
        st.stop()


def password_sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _read_secrets() -> Mapping[str, Any] | None:
    """The secrets as a dict: empty when no secrets file exists, None when one exists but cannot be read."""
    try:
        return st.secrets.to_dict()
    except StreamlitSecretNotFoundError:
        if any(Path(path).exists() for path in config.get_option("secrets.files")):
            # A broken file must not open the dashboard it was meant to lock.
            _log.exception("cannot read the secrets file; the dashboard stays locked")
            return None
        return {}


def _locked(login_page: Callable[[], None], pages: Sequence[StreamlitPage]) -> None:
    """Show `login_page` at the address of each of `pages`, and end the run.

    So /history shows the login page rather than "page not found", and after the login the
    rerun lands on the page that was asked for.
    """
    stand_ins = [
        st.Page(login_page, title="Log in", url_path=page.url_path, default=not page.url_path) for page in pages
    ]
    st.navigation(stand_ins, position="hidden").run()
    st.stop()


def _unreadable_secrets() -> None:
    st.error("The login settings in the secrets file cannot be read, so the dashboard stays locked.")


def _oidc_gate(auth: Mapping[str, Any], pages: Sequence[StreamlitPage]) -> None:
    if st.user.is_logged_in:
        st.sidebar.button("Log out", on_click=st.logout)
        return
    providers = _oidc_providers(auth)

    def login_page() -> None:
        st.title("Realtime metrics")
        for provider in providers:
            label = "Log in" if len(providers) == 1 else f"Log in with {provider}"
            if st.button(label, type="primary"):
                st.login(provider)

    _locked(login_page, pages)


def _oidc_providers(auth: Mapping[str, Any]) -> list[str | None]:
    """None for the provider set in [auth] itself, else the names of the [auth.<name>] sections."""
    named = [name for name, value in auth.items() if isinstance(value, Mapping) and name != "client_kwargs"]
    return [None] if "client_id" in auth or not named else named


def _password_gate(expected: str, pages: Sequence[StreamlitPage]) -> None:
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        _locked(_not_a_sha256, pages)
    if st.session_state.get(_PASSED):
        st.sidebar.button("Log out", on_click=_forget_password)
        return
    _locked(lambda: _password_page(expected), pages)


def _not_a_sha256() -> None:
    st.error(
        "`password_sha256` in the secrets file is not a SHA-256 (64 hex digits), so the dashboard stays "
        "locked. Make it with `python -m dashboard.login hash`."
    )


def _password_page(expected: str) -> None:
    st.title("Realtime metrics")
    with st.form("login", clear_on_submit=True):
        entered = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return
    paused = st.session_state.get(_PAUSED_UNTIL, 0.0) - clock()
    if paused > 0:
        st.error(f"Too many wrong passwords. Try again in {math.ceil(paused)} s.")
        return
    if hmac.compare_digest(password_sha256(entered), expected):
        st.session_state[_PASSED] = True
        st.session_state[_FAILURES] = 0
        st.rerun()
    st.error("Wrong password.")
    failures = st.session_state.get(_FAILURES, 0) + 1
    if failures >= MAX_FAILURES:
        st.session_state[_PAUSED_UNTIL] = clock() + PAUSE_SECONDS
        failures = 0
        st.error(f"Too many wrong passwords. Try again in {PAUSE_SECONDS:.0f} s.")
    st.session_state[_FAILURES] = failures


def _forget_password() -> None:
    st.session_state[_PASSED] = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.login", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "hash",
        help="read a password from stdin and print the line for .streamlit/secrets.toml",
        description="Reads the password without echo (or one line from a pipe) and prints the "
        "`password_sha256` line for the [dashboard] section of .streamlit/secrets.toml.",
    )
    parser.parse_args(argv)
    if sys.stdin.isatty():
        password = getpass.getpass("Dashboard password: ")
        if password != getpass.getpass("Again: "):
            print("The two passwords differ.", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("The password is empty.", file=sys.stderr)
        return 1
    print(f'password_sha256 = "{password_sha256(password)}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
