"""The login gate in front of every page, run by AppTest through app.py with the live subscription replaced.

Secrets are set with `at.secrets`; a test that needs a secrets *file* (none, or a broken one) gets it
in a temp directory, and no test ever reads a developer's real `.streamlit/secrets.toml`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit
from argon2 import PasswordHasher
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest, app_test
from streamlit.testing.v1.util import patch_config_options

import dashboard.api
import dashboard.login
import dashboard.resources
from dashboard.subscription import LiveView
from tests.test_history_pages import FakeAnalytics
from tests.test_pages import FakeSubscription

ROOT = Path(__file__).parents[1]
APP = str(ROOT / "app.py")
PASSWORD = "correct horse battery staple"
# Cheap argon2id parameters keep the tests fast; `python -m dashboard.login hash` uses the library's defaults.
PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
OIDC = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "not-a-real-secret",
    "client_id": "dashboard",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "https://idp.test/.well-known/openid-configuration",
}


@pytest.fixture(autouse=True)
def no_sidecar(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages' clients replaced: the live subscription never connects, the analytics answer empty."""
    subscription = FakeSubscription(LiveView())
    analytics = FakeAnalytics(answer=lambda path, params: {"points": [], "total": 0})
    monkeypatch.setattr(dashboard.resources, "live_subscription", lambda: subscription)
    monkeypatch.setattr(dashboard.api, "analytics", lambda: analytics)


@pytest.fixture(autouse=True)
def secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The one place Streamlit looks for secrets: a file that does not exist until a test writes it."""
    path = tmp_path / "secrets.toml"
    monkeypatch.setattr(streamlit, "secrets", Secrets())
    with patch_config_options({"secrets.files": [str(path)]}):
        yield path


class _AfterTheFirstRun(PagesManager):
    """A PagesManager that leaves Streamlit as it is once app.py has run in the process.

    Until app.py has called st.navigation once, Streamlit serves each file in pages/ by its own
    path; AppTest puts every run back into that state, so a run that asks for the page the last
    one showed would run that file without app.py, which a server does only on its first visit.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture(autouse=True)
def after_the_first_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_test, "PagesManager", _AfterTheFirstRun)


@pytest.fixture(autouse=True)
def fresh_throttle(monkeypatch: pytest.MonkeyPatch) -> dashboard.login.LoginThrottle:
    """The process-wide count of wrong passwords, new for each test."""
    throttle = dashboard.login.LoginThrottle()
    monkeypatch.setattr(dashboard.login, "throttle", throttle)
    # AppTest has no browser connection to take an address from: every session comes from this one.
    monkeypatch.setattr(dashboard.login, "_client_address", lambda: "203.0.113.5")
    return throttle


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The gate's clock, stepped by the test: `clock[0] += 31`."""
    now = [1000.0]
    monkeypatch.setattr(dashboard.login, "clock", lambda: now[0])
    return now


def open_app(user: dict[str, Any] | None = None, **secrets: Any) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets.update(secrets)
    if user is not None:
        at.user = user
    return checked(at.run())


def checked(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def submit(at: AppTest, password: str) -> AppTest:
    next(t for t in at.text_input if t.label == "Password").input(password)
    next(b for b in at.button if b.label == "Log in").click()
    return checked(at.run())


def shows_realtime(at: AppTest) -> bool:
    return [i.value for i in at.info] == ["Waiting for the first snapshot from ws://sidecar.test/ws/metrics…"]


def shows_only_the_password_form(at: AppTest) -> bool:
    return (
        [t.label for t in at.text_input] == ["Password"]
        and [b.label for b in at.button] == ["Log in"]
        and not at.info
        and not at.metric
        and not at.sidebar.button
    )


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_without_a_secrets_file_the_dashboard_is_open(secrets_file: Path) -> None:
    assert not secrets_file.exists()
    at = open_app()
    assert shows_realtime(at)
    assert not at.text_input and not at.sidebar.button


def test_secrets_without_a_login_leave_the_dashboard_open() -> None:
    at = open_app(dashboard={"title": "unrelated"})
    assert shows_realtime(at)
    assert not at.text_input


def test_a_configured_password_shows_the_form_and_nothing_else() -> None:
    at = open_app(dashboard={"password_hash": PASSWORD_HASH})
    assert shows_only_the_password_form(at)
    assert at.text_input[0].proto.type == at.text_input[0].proto.PASSWORD  # masked
    assert not errors(at)


def test_a_wrong_password_is_refused_without_a_hint() -> None:
    at = submit(open_app(dashboard={"password_hash": PASSWORD_HASH}), "correct horse")
    assert errors(at) == ["Wrong password."]
    assert shows_only_the_password_form(at)


def test_the_right_password_opens_the_dashboard_for_the_session() -> None:
    at = submit(open_app(dashboard={"password_hash": PASSWORD_HASH}), PASSWORD)
    assert shows_realtime(at)
    assert not at.text_input and not errors(at)
    assert [b.label for b in at.sidebar.button] == ["Log out"]
    assert shows_realtime(checked(at.run()))  # the next run of the same session stays open


def test_the_configured_hash_may_be_padded() -> None:
    at = submit(open_app(dashboard={"password_hash": f" {PASSWORD_HASH} "}), PASSWORD)
    assert shows_realtime(at)


def test_log_out_locks_the_dashboard_again() -> None:
    at = submit(open_app(dashboard={"password_hash": PASSWORD_HASH}), PASSWORD)
    at.sidebar.button[0].click()
    at = checked(at.run())
    assert shows_only_the_password_form(at)


def test_five_wrong_passwords_pause_the_address_for_30_seconds(clock: list[float]) -> None:
    at = open_app(dashboard={"password_hash": PASSWORD_HASH})
    for _ in range(4):
        assert errors(submit(at, "guess")) == ["Wrong password."]
    assert errors(submit(at, "guess")) == ["Wrong password.", "Too many wrong passwords. Try again in 30 s."]

    clock[0] += 20
    at = submit(at, PASSWORD)  # refused unchecked, right or not
    assert errors(at) == ["Too many wrong passwords. Try again in 10 s."]
    assert shows_only_the_password_form(at)

    clock[0] += 10
    assert shows_realtime(submit(at, PASSWORD))


def test_the_pause_holds_for_a_new_browser_session(clock: list[float]) -> None:
    first = open_app(dashboard={"password_hash": PASSWORD_HASH})
    for _ in range(5):
        submit(first, "guess")
    second = open_app(dashboard={"password_hash": PASSWORD_HASH})  # a new session from the same address
    assert errors(submit(second, PASSWORD)) == ["Too many wrong passwords. Try again in 30 s."]
    assert shows_only_the_password_form(second)


def test_each_failure_after_the_pause_doubles_it(clock: list[float]) -> None:
    at = open_app(dashboard={"password_hash": PASSWORD_HASH})
    for _ in range(5):
        submit(at, "guess")
    pauses = []
    for _ in range(3):
        clock[0] += 10_000
        pauses.append(errors(submit(at, "guess"))[-1])
    assert pauses == [f"Too many wrong passwords. Try again in {s} s." for s in (60, 120, 240)]
    clock[0] += 10_000
    assert shows_realtime(submit(at, PASSWORD))  # the right one still opens it, and resets the count
    assert dashboard.login.throttle.wait("203.0.113.5", clock[0]) == 0


def test_a_try_whose_run_ends_before_its_outcome_still_counts_as_a_failure() -> None:
    """Submitting again at once makes Streamlit end the running script at its next st.* call; a
    try is therefore counted before the password is checked, and only a right one is uncounted."""
    throttle = dashboard.login.LoginThrottle()
    for second in range(dashboard.login.MAX_FAILURES):
        assert throttle.attempt("203.0.113.5", float(second)) == 0  # each run ends before failed()
    assert throttle.wait("203.0.113.5", 5.0) == pytest.approx(dashboard.login.PAUSE_SECONDS - 1)
    assert throttle.attempt("203.0.113.5", 5.0) > 0  # refused unchecked, and not counted again


def test_a_right_password_is_not_counted_against_its_address_or_the_process() -> None:
    throttle = dashboard.login.LoginThrottle()
    for second in range(dashboard.login.MAX_FAILURES - 1):
        throttle.attempt("203.0.113.5", float(second))
        throttle.failed("203.0.113.5", float(second))
    throttle.attempt("203.0.113.5", 10.0)
    throttle.succeeded("203.0.113.5", 10.0)
    assert throttle.wait("203.0.113.5", 10.0) == 0
    for n in range(dashboard.login.PROCESS_FAILURES):  # right passwords from many addresses
        throttle.attempt(f"10.0.0.{n}", 20.0 + n)
        throttle.succeeded(f"10.0.0.{n}", 20.0 + n)
    assert throttle.wait("198.51.100.1", 40.0) == 0


def test_guesses_spread_over_addresses_pause_every_address(clock: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    addresses = iter(f"10.0.0.{n}" for n in range(1, 100))
    monkeypatch.setattr(dashboard.login, "_client_address", lambda: next(addresses))
    at = open_app(dashboard={"password_hash": PASSWORD_HASH})
    for _ in range(dashboard.login.PROCESS_FAILURES):  # one guess from each of 20 addresses, in a minute
        assert errors(submit(at, "guess")) == ["Wrong password."]
        clock[0] += 1
    assert errors(submit(at, PASSWORD)) == ["Too many wrong passwords. Try again in 59 s."]  # a 21st address
    clock[0] += 59
    assert shows_realtime(submit(at, PASSWORD))


def test_failures_are_logged_with_the_address_never_the_password(
    clock: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dashboard.login")
    at = open_app(dashboard={"password_hash": PASSWORD_HASH})
    submit(at, "hunter2")
    submit(at, "hunter3")  # within the minute: counted, not logged again
    clock[0] += 60
    submit(at, "hunter4")
    lines = [r.getMessage() for r in caplog.records if r.name == "dashboard.login"]
    assert lines == [
        "dashboard login failed { ip: '203.0.113.5', failures: 1, in a row: 1 }",
        "dashboard login failed { ip: '203.0.113.5', failures: 2, in a row: 3 }",
    ]
    assert "hunter" not in caplog.text


def test_a_link_to_another_page_shows_the_login_and_then_that_page() -> None:
    at = open_app()  # registers the pages, so AppTest can ask for one by path
    at.secrets["dashboard"] = {"password_hash": PASSWORD_HASH}
    at = checked(at.switch_page(str(ROOT / "pages" / "history.py")).run())
    assert shows_only_the_password_form(at) and not at.date_input
    at = submit(at, PASSWORD)
    assert [d.label for d in at.date_input] == ["Dates"]  # the History page
    assert [i.value for i in at.info] == ["No data in this range."]


def test_a_hash_that_is_not_argon2_keeps_the_dashboard_locked() -> None:
    at = open_app(dashboard={"password_hash": PASSWORD})  # the password itself, by mistake
    assert errors(at) == [
        "`password_hash` in the secrets file is not an argon2 hash, so the dashboard stays locked. "
        "Make it with `python -m dashboard.login hash`."
    ]
    assert not at.text_input and not shows_realtime(at)


def test_an_unsalted_sha256_is_no_longer_accepted() -> None:
    at = open_app(dashboard={"password_sha256": "a" * 64})
    assert errors(at) == [
        "`password_sha256` (an unsalted SHA-256) is no longer accepted, so the dashboard stays locked. "
        "Make a `password_hash` line with `python -m dashboard.login hash` and put it in its place."
    ]
    assert not at.text_input and not shows_realtime(at)


def test_a_secrets_file_that_cannot_be_read_keeps_the_dashboard_locked(secrets_file: Path) -> None:
    secrets_file.write_text(f'[dashboard]\npassword_hash = "{PASSWORD_HASH}\n')  # unterminated string
    at = open_app()
    assert errors(at) == ["The login settings in the secrets file cannot be read, so the dashboard stays locked."]
    assert not at.text_input and not shows_realtime(at)


def test_the_password_from_a_secrets_file_is_used(secrets_file: Path) -> None:
    secrets_file.write_text(f'[dashboard]\npassword_hash = "{PASSWORD_HASH}"\n')
    at = open_app()
    assert shows_only_the_password_form(at)
    assert shows_realtime(submit(at, PASSWORD))


# OIDC. AppTest's `at.secrets` does not reach the copy of the secrets that `st.user` reads, so a
# test states the login state itself with `at.user`, as AppTest documents; and `st.login` needs a
# provider (and Authlib), so the Log in test records the call instead.


def test_oidc_when_logged_out_shows_only_a_log_in_button() -> None:
    at = open_app(user={"is_logged_in": False}, auth=OIDC)
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.info and not at.metric and not at.text_input and not at.sidebar.button


def test_oidc_wins_over_a_password() -> None:
    at = open_app(user={"is_logged_in": False}, auth=OIDC, dashboard={"password_hash": PASSWORD_HASH})
    assert [b.label for b in at.button] == ["Log in"] and not at.text_input


def test_oidc_log_in_starts_streamlits_login_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str | None] = []
    monkeypatch.setattr(streamlit, "login", calls.append)
    at = open_app(user={"is_logged_in": False}, auth=OIDC)
    at.button[0].click()
    checked(at.run())
    assert calls == [None]  # the provider configured in [auth] itself


def test_oidc_offers_one_button_per_named_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str | None] = []
    monkeypatch.setattr(streamlit, "login", calls.append)
    provider = {k: OIDC[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    auth = {"redirect_uri": OIDC["redirect_uri"], "cookie_secret": "x", "google": provider, "okta": provider}
    at = open_app(user={"is_logged_in": False}, auth=auth)
    assert [b.label for b in at.button] == ["Log in with google", "Log in with okta"]
    at.button[1].click()
    checked(at.run())
    assert calls == ["okta"]


def test_oidc_when_logged_in_shows_the_dashboard_and_log_out_ends_it() -> None:
    at = open_app(user={"is_logged_in": True, "email": "ops@example.com"}, auth=OIDC)
    assert shows_realtime(at)
    assert [b.label for b in at.sidebar.button] == ["Log out"]
    at.sidebar.button[0].click()
    at = checked(at.run())
    assert at.user == {"is_logged_in": False}
    assert [b.label for b in at.button] == ["Log in"] and not shows_realtime(at)


def test_the_first_visit_after_a_restart_to_another_page_gets_the_login_page_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_test, "PagesManager", PagesManager)  # every run is the first one
    at = open_app()  # registers the pages, so AppTest can ask for one by path
    at.secrets["dashboard"] = {"password_hash": PASSWORD_HASH}
    at = checked(at.switch_page(str(ROOT / "pages" / "history.py")).run())
    assert not at.date_input  # none of the page
    assert [w.value for w in at.warning] == ["This dashboard asks for a login."]


# `python -m dashboard.login hash`


def test_hash_reads_a_piped_password_and_prints_the_secrets_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert dashboard.login.main(["hash"]) == 0
    _verifies(capsys.readouterr().out, PASSWORD)


def test_hash_asks_twice_without_echo_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([PASSWORD, PASSWORD, PASSWORD, "typo"])
    prompts: list[str] = []
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or next(answers))
    assert dashboard.login.main(["hash"]) == 0
    assert prompts == ["Dashboard password: ", "Again: "]
    _verifies(capsys.readouterr().out, PASSWORD)

    assert dashboard.login.main(["hash"]) == 1
    assert capsys.readouterr() == ("", "The two passwords differ.\n")


def test_hash_refuses_an_empty_password(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert dashboard.login.main(["hash"]) == 1
    assert capsys.readouterr() == ("", "The password is empty.\n")


def _verifies(printed: str, password: str) -> None:
    """`printed` is one `password_hash = "..."` line: an argon2id hash, salted, of `password`."""
    prefix, hashed, end = printed.split('"')
    assert (prefix, end) == ("password_hash = ", "\n")
    assert hashed.startswith("$argon2id$")
    assert PasswordHasher().verify(hashed, password)
    assert dashboard.login.password_hash(password) != hashed  # a salt of its own each time


def test_a_secrets_file_other_users_may_read_is_said_once(
    secrets_file: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    monkeypatch.setattr(dashboard.login, "_warned", threading.Event())
    secrets_file.write_text(f'[dashboard]\npassword_hash = "{PASSWORD_HASH}"\n')
    secrets_file.chmod(0o644)
    caplog.set_level(logging.WARNING, logger="dashboard.login")
    open_app()
    open_app()
    said = [r.getMessage() for r in caplog.records if "readable by other users" in r.getMessage()]
    assert said == [
        f"{secrets_file} holds secrets but is readable by other users (mode 0o644); run: chmod 600 {secrets_file}"
    ]
