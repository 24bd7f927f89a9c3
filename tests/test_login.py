"""The login gate in front of every page, run by AppTest through app.py with the live subscription replaced.

Secrets are set with `at.secrets`; a test that needs a secrets *file* (none, or a broken one) gets it
in a temp directory, and no test ever reads a developer's real `.streamlit/secrets.toml`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit
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
PASSWORD_SHA256 = hashlib.sha256(PASSWORD.encode()).hexdigest()
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
    at = open_app(dashboard={"password_sha256": PASSWORD_SHA256})
    assert shows_only_the_password_form(at)
    assert at.text_input[0].proto.type == at.text_input[0].proto.PASSWORD  # masked
    assert not errors(at)


def test_a_wrong_password_is_refused_without_a_hint() -> None:
    at = submit(open_app(dashboard={"password_sha256": PASSWORD_SHA256}), "correct horse")
    assert errors(at) == ["Wrong password."]
    assert shows_only_the_password_form(at)


def test_the_right_password_opens_the_dashboard_for_the_session() -> None:
    at = submit(open_app(dashboard={"password_sha256": PASSWORD_SHA256}), PASSWORD)
    assert shows_realtime(at)
    assert not at.text_input and not errors(at)
    assert [b.label for b in at.sidebar.button] == ["Log out"]
    assert shows_realtime(checked(at.run()))  # the next run of the same session stays open


def test_the_configured_hash_may_be_upper_case_and_padded() -> None:
    at = submit(open_app(dashboard={"password_sha256": f" {PASSWORD_SHA256.upper()} "}), PASSWORD)
    assert shows_realtime(at)


def test_log_out_locks_the_dashboard_again() -> None:
    at = submit(open_app(dashboard={"password_sha256": PASSWORD_SHA256}), PASSWORD)
    at.sidebar.button[0].click()
    at = checked(at.run())
    assert shows_only_the_password_form(at)


def test_five_wrong_passwords_pause_the_session_for_30_seconds(clock: list[float]) -> None:
    at = open_app(dashboard={"password_sha256": PASSWORD_SHA256})
    for _ in range(4):
        assert errors(submit(at, "guess")) == ["Wrong password."]
    assert errors(submit(at, "guess")) == ["Wrong password.", "Too many wrong passwords. Try again in 30 s."]

    clock[0] += 20
    at = submit(at, PASSWORD)  # refused unchecked, right or not
    assert errors(at) == ["Too many wrong passwords. Try again in 10 s."]
    assert shows_only_the_password_form(at)

    clock[0] += 10
    assert shows_realtime(submit(at, PASSWORD))


def test_after_the_pause_the_count_starts_again(clock: list[float]) -> None:
    at = open_app(dashboard={"password_sha256": PASSWORD_SHA256})
    for _ in range(5):
        submit(at, "guess")
    clock[0] += 30
    for _ in range(4):
        assert errors(submit(at, "guess")) == ["Wrong password."]
    assert errors(submit(at, "guess"))[-1] == "Too many wrong passwords. Try again in 30 s."


def test_a_link_to_another_page_shows_the_login_and_then_that_page() -> None:
    at = open_app()  # registers the pages, so AppTest can ask for one by path
    at.secrets["dashboard"] = {"password_sha256": PASSWORD_SHA256}
    at = checked(at.switch_page(str(ROOT / "pages" / "history.py")).run())
    assert shows_only_the_password_form(at) and not at.date_input
    at = submit(at, PASSWORD)
    assert [d.label for d in at.date_input] == ["Dates"]  # the History page
    assert [i.value for i in at.info] == ["No data in this range."]


def test_a_hash_that_is_not_a_sha256_keeps_the_dashboard_locked() -> None:
    at = open_app(dashboard={"password_sha256": PASSWORD})  # the password itself, by mistake
    assert errors(at) == [
        "`password_sha256` in the secrets file is not a SHA-256 (64 hex digits), so the dashboard stays "
        "locked. Make it with `python -m dashboard.login hash`."
    ]
    assert not at.text_input and not shows_realtime(at)


def test_a_secrets_file_that_cannot_be_read_keeps_the_dashboard_locked(secrets_file: Path) -> None:
    secrets_file.write_text(f'[dashboard]\npassword_sha256 = "{PASSWORD_SHA256}\n')  # unterminated string
    at = open_app()
    assert errors(at) == ["The login settings in the secrets file cannot be read, so the dashboard stays locked."]
    assert not at.text_input and not shows_realtime(at)


def test_the_password_from_a_secrets_file_is_used(secrets_file: Path) -> None:
    secrets_file.write_text(f'[dashboard]\npassword_sha256 = "{PASSWORD_SHA256}"\n')
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
    at = open_app(user={"is_logged_in": False}, auth=OIDC, dashboard={"password_sha256": PASSWORD_SHA256})
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
    at.secrets["dashboard"] = {"password_sha256": PASSWORD_SHA256}
    at = checked(at.switch_page(str(ROOT / "pages" / "history.py")).run())
    assert not at.date_input  # none of the page
    assert [w.value for w in at.warning] == ["This dashboard asks for a login."]


# `python -m dashboard.login hash`


def test_hash_reads_a_piped_password_and_prints_the_secrets_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert dashboard.login.main(["hash"]) == 0
    assert capsys.readouterr().out == f'password_sha256 = "{PASSWORD_SHA256}"\n'


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
    assert capsys.readouterr().out == f'password_sha256 = "{PASSWORD_SHA256}"\n'

    assert dashboard.login.main(["hash"]) == 1
    assert capsys.readouterr() == ("", "The two passwords differ.\n")


def test_hash_refuses_an_empty_password(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert dashboard.login.main(["hash"]) == 1
    assert capsys.readouterr() == ("", "The password is empty.\n")
