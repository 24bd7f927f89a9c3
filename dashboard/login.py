"""The login gate app.py passes before any page runs, and `python -m dashboard.login hash`.

What `.streamlit/secrets.toml` configures decides the gate:
- an `[auth]` section: Streamlit's own OpenID Connect login (`st.login`, `st.user`, `st.logout`);
- else `[dashboard] password_hash`: a password form, checked against that argon2id hash (slow and
  salted: a stolen secrets file does not give the password away cheaply). Wrong passwords are
  counted per client address and for the whole process, in every session alike, with pauses that
  grow; each failure is logged with the address, never with what was typed;
- else nothing: the dashboard is open, as it is on loopback.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import math
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from streamlit import config
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.navigation.page import StreamlitPage

from server.file_permissions import readable_by_others, warning_for

MAX_FAILURES = 5  # wrong passwords in a row from one address before it is paused
PAUSE_SECONDS = 30.0  # the first pause; each further failure doubles it, up to MAX_PAUSE_SECONDS
MAX_PAUSE_SECONDS = 900.0
PROCESS_FAILURES = 20  # wrong passwords from all addresses within a minute before every try pauses
PROCESS_PAUSE_SECONDS = 60.0
_ADDRESSES_KEPT = 10_000  # failure records kept (the oldest go first)

# Session state key.
_PASSED = "login-passed"

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
    elif _password_configured(secrets):
        _password_gate(secrets["dashboard"], pages)


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
    elif _password_configured(secrets):
        allowed = bool(st.session_state.get(_PASSED))
    else:
        allowed = True
    if not allowed:
        st.warning("This dashboard asks for a login.")
        st.markdown("[Log in](/)")
        st.stop()


def password_hash(password: str) -> str:
    """The argon2id hash of `password`, with a salt of its own (argon2-cffi's defaults)."""
    return _HASHER.hash(password)


_HASHER = PasswordHasher()


def _password_configured(secrets: Mapping[str, Any]) -> bool:
    section = secrets.get("dashboard", {})
    return isinstance(section, Mapping) and ("password_hash" in section or "password_sha256" in section)


@dataclass
class _Failures:
    count: int = 0  # in a row
    paused_until: float = 0.0
    logged_at: float = -math.inf
    unlogged: int = 0


class LoginThrottle:
    """Wrong passwords, shared by every session of this process: per client address (a pause after
    MAX_FAILURES in a row, doubling with each further one) and for the process as a whole (a pause
    for everyone after PROCESS_FAILURES within a minute, against guesses spread over addresses)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._addresses: OrderedDict[str, _Failures] = OrderedDict()
        self._recent: list[float] = []  # when the process's failures of the last minute happened
        self._process_paused_until = 0.0
        self._paused_by: float | None = None  # the try that started the process's pause

    def wait(self, address: str, now: float) -> float:
        """Seconds before `address` may try a password (0 when it may now)."""
        with self._lock:
            record = self._addresses.get(address)
            own = record.paused_until - now if record is not None else 0.0
            return max(0.0, own, self._process_paused_until - now)

    def attempt(self, address: str, now: float) -> float:
        """Before a password is checked: the seconds `address` must still wait (the try is then
        refused and not counted), else 0, with the try counted as a failure until `succeeded`.

        Counting first matters: Streamlit interrupts a run at its next `st.*` call when the same
        session submits again, so a count made after the check could be skipped by submitting
        fast; a run that never reports its outcome stays a failure."""
        with self._lock:
            record = self._addresses.get(address)
            wait = max(0.0, record.paused_until - now if record else 0.0, self._process_paused_until - now)
            if wait > 0:
                return wait
            record = self._addresses.pop(address, None) or _Failures()
            self._addresses[address] = record
            while len(self._addresses) > _ADDRESSES_KEPT:
                self._addresses.popitem(last=False)
            record.count += 1
            record.unlogged += 1
            if record.count >= MAX_FAILURES:
                record.paused_until = now + min(MAX_PAUSE_SECONDS, PAUSE_SECONDS * 2 ** (record.count - MAX_FAILURES))
            self._recent = [t for t in self._recent if t > now - 60] + [now]
            if len(self._recent) >= PROCESS_FAILURES:
                self._process_paused_until, self._paused_by = now + PROCESS_PAUSE_SECONDS, now
                self._recent.clear()
            return 0.0

    def failed(self, address: str, now: float) -> float:
        """The try counted by `attempt` was a wrong password: say so; returns the pause it started."""
        with self._lock:
            if self._paused_by == now:
                _log.warning(
                    "dashboard login: %d wrong passwords within a minute; every try pauses for %.0f s",
                    PROCESS_FAILURES,
                    PROCESS_PAUSE_SECONDS,
                )
            record = self._addresses.get(address)
            if record is None:
                return 0.0
            # One line per address a minute at most, with the count since the last one.
            if now - record.logged_at >= 60:
                _log.warning(
                    "dashboard login failed { ip: '%s', failures: %d, in a row: %d }",
                    address,
                    record.unlogged,
                    record.count,
                )
                record.logged_at, record.unlogged = now, 0
            return max(0.0, record.paused_until - now)

    def succeeded(self, address: str, now: float) -> None:
        """The try counted by `attempt` at `now` was right: it is no failure, and the row is cleared."""
        with self._lock:
            self._addresses.pop(address, None)
            if now in self._recent:
                self._recent.remove(now)
            if self._paused_by == now:  # this very try would have paused everyone
                self._process_paused_until, self._paused_by = 0.0, None


throttle = LoginThrottle()  # one per process: a new browser session starts no count afresh


def _read_secrets() -> Mapping[str, Any] | None:
    """The secrets as a dict: empty when no secrets file exists, None when one exists but cannot be read."""
    _warn_about_exposed_secrets()
    try:
        return st.secrets.to_dict()
    except StreamlitSecretNotFoundError:
        if any(Path(path).exists() for path in config.get_option("secrets.files")):
            # A broken file must not open the dashboard it was meant to lock.
            _log.exception("cannot read the secrets file; the dashboard stays locked")
            return None
        return {}


_warned = threading.Event()


def _warn_about_exposed_secrets() -> None:
    """Once per process: say which secrets files other users of the machine may read."""
    if _warned.is_set():
        return
    _warned.set()
    for path, mode in readable_by_others([*config.get_option("secrets.files"), ".env"]):
        _log.warning(warning_for(path, mode))


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
    named: list[str | None] = [
        name for name, value in auth.items() if isinstance(value, Mapping) and name != "client_kwargs"
    ]
    return [None] if "client_id" in auth or not named else named


def _password_gate(section: Mapping[str, Any], pages: Sequence[StreamlitPage]) -> None:
    if "password_hash" not in section:
        _locked(_sha256_no_longer_accepted, pages)
    expected = str(section["password_hash"]).strip()
    try:
        _HASHER.check_needs_rehash(expected)  # parses the hash: refuses anything that is not argon2
    except (InvalidHashError, ValueError):
        _locked(_not_an_argon2_hash, pages)
    if st.session_state.get(_PASSED):
        st.sidebar.button("Log out", on_click=_forget_password)
        return
    _locked(lambda: _password_page(expected), pages)


def _sha256_no_longer_accepted() -> None:
    st.error(
        "`password_sha256` (an unsalted SHA-256) is no longer accepted, so the dashboard stays locked. "
        "Make a `password_hash` line with `python -m dashboard.login hash` and put it in its place."
    )


def _not_an_argon2_hash() -> None:
    st.error(
        "`password_hash` in the secrets file is not an argon2 hash, so the dashboard stays locked. "
        "Make it with `python -m dashboard.login hash`."
    )


def _client_address() -> str:
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "unknown"


def _password_page(expected: str) -> None:
    st.title("Realtime metrics")
    with st.form("login", clear_on_submit=True):
        entered = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return
    address = _client_address()
    now = clock()
    wait = throttle.attempt(address, now)
    if wait > 0:
        st.error(f"Too many wrong passwords. Try again in {math.ceil(wait)} s.")
        return
    # No st.* call between the count above and the outcome below: Streamlit may end a run at any
    # st.* call (a second submit does), and the try must then stay counted, never half-done.
    try:
        _HASHER.verify(expected, entered)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pause = throttle.failed(address, now)
        st.error("Wrong password.")
        if pause > 0:
            st.error(f"Too many wrong passwords. Try again in {math.ceil(pause)} s.")
        return
    st.session_state[_PASSED] = True
    throttle.succeeded(address, now)
    st.rerun()


def _forget_password() -> None:
    st.session_state[_PASSED] = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.login", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "hash",
        help="read a password from stdin and print the line for .streamlit/secrets.toml",
        description="Reads the password without echo (or one line from a pipe) and prints the "
        "`password_hash` line (argon2id) for the [dashboard] section of .streamlit/secrets.toml.",
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
    print(f'password_hash = "{password_hash(password)}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
